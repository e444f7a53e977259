"""What goes wrong with a tagger model, as domain errors every door knows how to answer."""

from tagger_project.errors import InvalidInput, NotFound


class BadTaggerModel(InvalidInput):
    """A model folder that cannot be used as it stands; the message says what to fix."""


class TaggerNotFound(NotFound):
    """No model folder of that name under TAGGER_MODELS_DIR."""
