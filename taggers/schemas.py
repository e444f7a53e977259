"""Shapes of the taggers API."""

from tagger_project.schemas import Out


class TaggerOut(Out):
    name: str
    usable: bool
    error: str
    input_size: int | None
    fixed_batch: int | None
    tag_count: int | None
    rating_tags: int | None
    general_tags: int | None
    character_tags: int | None
    sha256: str


class TaggerList(Out):
    items: list[TaggerOut]
    # onnxruntime execution providers in order of preference (CUDA first when installed).
    providers: list[str]
