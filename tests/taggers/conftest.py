import pytest

from taggers.runtime import forget_taggers


@pytest.fixture
def models_dir(tmp_path, settings):
    """An empty TAGGER_MODELS_DIR of this test's own; loaded sessions forgotten after."""
    root = tmp_path / "tagger-models"
    root.mkdir()
    settings.TAGGER_MODELS_DIR = root
    yield root
    forget_taggers()
