"""What only a Tagger backup restores: members, rules, subsets, its tags' popularity.

`datasets.services.dataset_import` runs these around the images when the
dataset carries them (Tagger JSON), inside the one transaction a restore
is. Each writes through the service every other door uses, so members and
rules are logged as session events like any edit.

- Members are matched by user name. A user this installation does not have
  is reported (`DatasetReport.missing_users`), never created; an existing
  user gets the document's role.
- Rules are checked before anything is written (`rules_check`) and applied
  after the images, through `rules_apply`: lists that already obey them (the
  lists a backup holds) are left as they are.
- Popularity and description go only to the tags the restore creates, as
  categories do: a tag that existed keeps its own.

- Subsets are recreated after the images, through `subsets_load`, which
  names images by content (ids differ between databases).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model

from datasets.importing_formats import Dataset
from sessions_app.models import SessionEvent, SessionMember, TaggingSession
from sessions_app.rules import TagRules, rules_from_input, session_rules
from sessions_app.services.rules import rules_apply
from sessions_app.services.sessions import session_member_add
from sessions_app.services.subsets import subsets_load
from tagger_project.errors import DomainError, InvalidInput
from tags.normalize import InvalidTagName
from tags.services import tags_describe

if TYPE_CHECKING:
    from datasets.services import DatasetReport

# A step returns the events it appended, for the import's outcome.
Step = Callable[[TaggingSession, object, Dataset, "DatasetReport"], list[SessionEvent]]


def rules_check(dataset: Dataset) -> TagRules | None:
    """The backup's rules, validated; raises InvalidInput (before anything is written)."""
    if dataset.rules is None:
        return None
    try:
        return rules_from_input(**dataset.rules)
    except InvalidTagName as error:
        raise InvalidInput(f"the document's rules name an invalid tag: {error.reason}") from None
    except InvalidInput as error:
        raise InvalidInput(f"the document's rules: {error.message}") from None


def restore_members(session: TaggingSession, actor, dataset: Dataset, report) -> list[SessionEvent]:
    """Give each member the document names, that this installation has, their role."""
    users = get_user_model()
    field = users.USERNAME_FIELD
    current = dict(
        SessionMember.objects.filter(session=session).values_list(f"user__{field}", "role")
    )
    events: list[SessionEvent] = []
    for username, role in dataset.members:
        if current.get(username) == role:
            continue
        user = users.objects.filter(**{field: username}).first()
        if user is None:
            report.missing_users.append(username)
            report.problem("members", f"no user {username!r} here; their role {role!r} not given")
            continue
        try:
            events += session_member_add(session, actor=actor, user=user, role=role).events
        except DomainError as error:
            report.problem("members", f"{username!r} not made {role}: {error.message}")
    return events


def restore_rules(session: TaggingSession, actor, dataset: Dataset, report) -> list[SessionEvent]:
    """Apply the document's rules (checked again now that its vocabulary is here)."""
    rules = rules_check(dataset)
    if rules is None or rules == session_rules(session.pk):
        return []
    applied = rules_apply(session, actor=actor, rules=rules)
    if changed := applied.value.changed:
        report.problem("rules", f"{changed} images reordered or trimmed to obey the rules")
    return list(applied.events)


def describe_new_tags(dataset: Dataset, canonical: dict[str, str], existing: set[str]) -> None:
    """Popularity and description for the tags this restore created."""
    entries = {
        canonical[raw]: (popularity, dataset.descriptions.get(raw, ""))
        for raw, popularity in dataset.popularity.items()
        if raw in canonical and canonical[raw] not in existing
    }
    tags_describe(entries)


def restore_subsets(session: TaggingSession, actor, dataset: Dataset, report) -> list[SessionEvent]:
    if not dataset.subsets:
        return []
    return list(subsets_load(session, actor=actor, subsets=dataset.subsets).events)


BEFORE_IMAGES: tuple[Step, ...] = (restore_members,)
AFTER_IMAGES: tuple[Step, ...] = (restore_subsets, restore_rules)
