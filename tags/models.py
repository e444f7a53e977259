"""The tag vocabulary: tags, aliases, implications (the tags on a session's images are
sessions_app.SessionImageTag)."""

from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import GreaterThan, LessThanOrEqual

MAX_TAG_LENGTH = 200


class TagCategory(models.TextChoices):
    GENERAL = "general"
    ARTIST = "artist"
    COPYRIGHT = "copyright"
    CHARACTER = "character"
    META = "meta"
    # e621's own categories (its tag types 2, 5, 6 and 8), kept so an e621
    # vocabulary or a hydrus `species:` tag keeps its meaning.
    SPECIES = "species"
    CONTRIBUTOR = "contributor"
    LORE = "lore"
    INVALID = "invalid"


class TagSource(models.TextChoices):
    MANUAL = "manual"
    CAPTION = "caption", "caption file"
    PROMPT = "prompt", "embedded prompt"
    IMPLICATION = "implication"
    RULE = "rule"
    SUGGESTION = "suggestion", "vocabulary suggestion"
    AUTOTAGGER = "autotagger", "auto-tagger"


def _name_is_sane(field: str) -> models.Q:
    """Database-side guard for a normalized name: non-empty, bounded."""
    return models.Q(GreaterThan(Length(field), 0), LessThanOrEqual(Length(field), MAX_TAG_LENGTH))


class Tag(models.Model):
    # Canonical, normalized (tags.normalize) and unique.
    name = models.CharField(max_length=MAX_TAG_LENGTH, unique=True)
    category = models.CharField(
        max_length=16, choices=TagCategory.choices, default=TagCategory.GENERAL
    )
    description = models.TextField(blank=True)
    # How many session images carry the tag (the tag's popularity here):
    # maintained by sessions_app/services/tag_writer.py in the same transaction
    # as the SessionImageTag rows,
    # so autocomplete and query planning never GROUP BY.
    image_count = models.PositiveIntegerField(default=0)
    # Popularity outside this installation (e.g. booru post counts from an
    # imported vocabulary); breaks ties in autocomplete.
    popularity = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=_name_is_sane("name"), name="tag_name_sane"),
            models.CheckConstraint(
                condition=models.Q(category__in=TagCategory.values), name="tag_category_known"
            ),
        ]
        indexes = [
            # Autocomplete walks it from the top (tags.autocomplete); category rides
            # along so a category filter is checked in the index. The prefix
            # indexes autocomplete reads are made per database by migration 0003.
            models.Index(
                fields=["-image_count", "-popularity", "name", "category"], name="tag_rank_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TagAlias(models.Model):
    """An alternative name that resolves to a canonical tag (a booru "sibling")."""

    name = models.CharField(max_length=MAX_TAG_LENGTH, unique=True)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="aliases")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "tag aliases"
        constraints = [
            models.CheckConstraint(condition=_name_is_sane("name"), name="alias_name_sane"),
        ]

    def __str__(self) -> str:
        return f"{self.name} → {self.tag.name}"


class TagWord(models.Model):
    """A word start inside a tag's name or alias (`hair` of `long hair`), for autocomplete.

    Written only by database triggers on tags_tag and tags_tagalias (migration
    0007), so no writer can forget it; never write it from Python. A word
    starts at any character after one that is not an ASCII letter (as
    a1111-tagcomplete matches), except a space and the name's first character
    (the name's own prefix indexes serve that). `alias_id` is NULL for a word of
    the tag's own name. Plain integers, not foreign keys: the triggers keep
    them true, and Django's delete collector has nothing to do here.
    """

    word = models.CharField(max_length=MAX_TAG_LENGTH)
    tag_id = models.IntegerField()
    alias_id = models.IntegerField(null=True)

    class Meta:
        indexes = [models.Index(fields=["tag_id"], name="tagword_tag_idx")]

    def __str__(self) -> str:
        return f"{self.word} → {self.tag_id}"


class TagImplication(models.Model):
    """Adding `tag` also adds `implied` (a booru "parent"); cycles are refused."""

    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="implications")
    implied = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="implied_by")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tag", "implied"], name="implication_unique"),
            models.CheckConstraint(
                condition=~models.Q(tag=models.F("implied")), name="implication_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tag.name} ⇒ {self.implied.name}"
