"""Tagging sessions: who works on which images, and the log of every edit."""

from django.conf import settings
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import GreaterThan

from images.models import Image
from tags.models import Tag, TagSource


class Role(models.TextChoices):
    OWNER = "owner"
    EDITOR = "editor"
    VIEWER = "viewer"


class ImageStatus(models.TextChoices):
    TODO = "todo"
    TAGGED = "tagged"
    REVIEWED = "reviewed"
    SKIPPED = "skipped"


class TaggingSession(models.Model):
    # Unique per owner, not across users: a global unique name would tell
    # anyone "someone already has a session called X".
    name = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_sessions"
    )
    description = models.TextField(blank=True)
    # Export settings: kohya captions start with the trigger word.
    trigger_word = models.CharField(max_length=200, blank=True)
    separator = models.CharField(max_length=8, default=", ")
    use_underscores = models.BooleanField(default=False)
    escape_parentheses = models.BooleanField(default=False)
    # How the imported dataset wrote its captions beyond the three fields above
    # (format, caption extension, trailing separator, final newline, the joint
    # between tags and sentence, kohya-json layout): export writes the same way,
    # so an unedited dataset goes out byte for byte (datasets/caption_style.py).
    caption_style = models.JSONField(default=dict, blank=True)
    # The seq of the newest SessionEvent; bumped in the event's transaction,
    # which is what keeps seq gapless.
    last_seq = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=GreaterThan(Length("name"), 0), name="session_has_name"
            ),
            models.UniqueConstraint(fields=["owner", "name"], name="session_name_per_owner"),
        ]

    def __str__(self) -> str:
        return self.name


class SessionMember(models.Model):
    session = models.ForeignKey(TaggingSession, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="session_memberships"
    )
    role = models.CharField(max_length=8, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "user"]
        constraints = [
            models.UniqueConstraint(fields=["session", "user"], name="member_unique"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="role_known"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.session}"


class SessionSubset(models.Model):
    """A kohya DreamBooth subset: its images export to the folder `<num_repeats>_<name>`.

    sd-scripts (library/config_util.py) reads a folder `10_ohwx` as 10 repeats
    and the class token `ohwx`; the dataset config says both explicitly, so
    `class_tokens` may differ from the name. Two folders may share a name with
    different repeats (`10_ohwx`, `5_ohwx`): the folder is what is unique.
    """

    session = models.ForeignKey(TaggingSession, on_delete=models.CASCADE, related_name="subsets")
    name = models.CharField(max_length=100)
    num_repeats = models.PositiveIntegerField(default=1)
    class_tokens = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "name", "num_repeats"], name="subset_folder_unique"
            ),
            models.CheckConstraint(
                condition=GreaterThan(Length("name"), 0), name="subset_has_name"
            ),
            models.CheckConstraint(
                condition=models.Q(num_repeats__gte=1), name="subset_repeats_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.folder

    @property
    def folder(self) -> str:
        return f"{self.num_repeats}_{self.name}"


class SessionImage(models.Model):
    session = models.ForeignKey(TaggingSession, on_delete=models.CASCADE, related_name="entries")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="session_entries")
    position = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=ImageStatus.choices, default=ImageStatus.TODO)
    # Moved by every change to this session image's tags, in the same
    # transaction (services/tag_writer.py): the optimistic check of tag edits
    # and the caption cache (sessions_app/captions.py) rest on it.
    version = models.PositiveIntegerField(default=0)
    # The written caption: free text kept exactly as typed (case, punctuation,
    # line breaks), beside the tag list. It has its own version, so one person
    # writing the sentence and another editing the tags never refuse each other
    # (services/written_caption.py).
    caption = models.TextField(blank=True, default="")
    caption_version = models.PositiveIntegerField(default=0)
    # The file name this session knows the image by (the name it was imported
    # under here): another session holding the same bytes never sees it.
    original_name = models.CharField(max_length=255, default="")
    # At most one subset (kohya repeat folder); none: exported as before, at the top.
    subset = models.ForeignKey(
        SessionSubset, null=True, blank=True, on_delete=models.SET_NULL, related_name="entries"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "image"], name="session_image_unique"),
            models.CheckConstraint(
                condition=models.Q(status__in=ImageStatus.values), name="session_image_status_known"
            ),
        ]
        indexes = [
            models.Index(fields=["session", "status"], name="session_image_status_idx"),
            # Session order: keyset pages of the image list walk this index,
            # which carries the image and status each visited row is tested on.
            models.Index(
                fields=["session", "position", "id", "image", "status"],
                name="session_image_walk_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.image_id} in {self.session_id} ({self.status})"


class SessionImageTag(models.Model):
    """A tag on a session's image, at a position in that session's caption.

    The rows hang on the session image, not on the file: two sessions holding
    the same bytes each keep their own list.
    """

    # No single-column indexes: the unique (entry, tag) and the (tag, entry)
    # indexes below lead with each column, and every extra index is paid on
    # each of the bulk writes (batch, merge, rules).
    entry = models.ForeignKey(
        SessionImage, on_delete=models.CASCADE, related_name="tags", db_index=False
    )
    tag = models.ForeignKey(
        Tag, on_delete=models.CASCADE, related_name="entry_tags", db_index=False
    )
    # Caption order matters to trainers. Gaps are allowed; order is (position, id).
    position = models.PositiveIntegerField()
    source = models.CharField(max_length=16, choices=TagSource.choices, default=TagSource.MANUAL)
    # The tag as the imported caption file wrote it (`Smile`, `pokemon_\(creature\)`)
    # when that differs from the session's export spelling of its name; "" for
    # a tag spelled the session's way, which every tag a person adds is (the
    # database default, so the raw INSERTs of sessions_app/sql.py need not name it).
    spelling = models.CharField(max_length=400, blank=True, default="", db_default="")
    confidence = models.FloatField(null=True, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["entry", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["entry", "tag"], name="entrytag_unique"),
            models.CheckConstraint(
                condition=models.Q(source__in=TagSource.values), name="entrytag_source_known"
            ),
            models.CheckConstraint(
                condition=models.Q(confidence__isnull=True)
                | models.Q(confidence__gte=0, confidence__lte=1),
                name="entrytag_confidence_range",
            ),
        ]
        indexes = [
            # Queries drive from a tag to its session images, and test that the
            # row is in the caption (not a suggestion) from the index alone.
            models.Index(fields=["tag", "entry", "source"], name="entrytag_tag_entry_src_idx"),
            # Caption order, carrying what a page shows (tags.labels has the
            # names), so a page's tags are read from this index alone.
            models.Index(
                fields=["entry", "position", "id", "tag", "source"], name="entrytag_caption_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entry_id}:{self.tag_id}@{self.position}"


class SessionEvent(models.Model):
    """One entry of a session's append-only log; `seq` is gapless per session."""

    session = models.ForeignKey(TaggingSession, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveBigIntegerField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    kind = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    # What would undo this event, where it can be undone (issue: undo/redo).
    inverse = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["session", "seq"], name="event_seq_unique"),
            models.CheckConstraint(condition=models.Q(seq__gte=1), name="event_seq_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.session_id}#{self.seq} {self.kind}"


class ClientConnection(models.Model):
    """One open WebSocket, recorded where every worker sees it (presence and statistics)."""

    client_id = models.CharField(max_length=32, unique=True)
    session = models.ForeignKey(TaggingSession, on_delete=models.CASCADE, related_name="clients")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ws_clients"
    )
    # Where to reach the consumer (channel layer) and which process holds it.
    channel_name = models.CharField(max_length=200)
    worker_id = models.CharField(max_length=100)
    connected_at = models.DateTimeField()
    last_seen = models.DateTimeField()
    frames_in = models.PositiveBigIntegerField(default=0)
    frames_out = models.PositiveBigIntegerField(default=0)
    # The image the client is looking at; not a foreign key, so deleting an
    # image never waits on presence rows.
    image_id = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["session", "connected_at", "id"]
        indexes = [models.Index(fields=["last_seen"], name="client_last_seen_idx")]

    def __str__(self) -> str:
        return f"{self.user} in {self.session_id} ({self.client_id})"


class SessionRules(models.Model):
    """A session's tag rules: applied on import, on every edit and on export.

    Names are canonical tag names (normalized, aliases resolved when saved);
    `category_order` lists tag categories. Empty lists mean "no rule".
    """

    session = models.OneToOneField(
        TaggingSession, on_delete=models.CASCADE, primary_key=True, related_name="rules"
    )
    # Tags never allowed on the session's images.
    blacklist = models.JSONField(default=list, blank=True)
    # Tags that always come first (after the trigger word), in this order.
    pinned = models.JSONField(default=list, blank=True)
    # The rest of the caption sorted by category in this order, stable within one.
    category_order = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "session rules"

    def __str__(self) -> str:
        return f"rules of {self.session_id}"
