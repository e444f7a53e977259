"""Datasets in and out: format readers and writers, the import pipeline, export, insight."""
