"""Request and response shapes of the auth endpoints."""

from datetime import datetime
from typing import Annotated

from pydantic import StringConstraints

from tagger_project.schemas import In, Out, Text

Credential = Annotated[str, StringConstraints(max_length=256, pattern=r"^[^\x00]*$")]


class LoginIn(In):
    username: Credential
    password: Credential


class CsrfOut(Out):
    csrf_token: str


class MeOut(Out):
    id: int
    username: str
    is_staff: bool


class TokenIn(In):
    name: Text = ""


class TokenOut(Out):
    """A new token: `token` is shown only in this answer."""

    id: int
    token: str
    name: str
    created_at: datetime
