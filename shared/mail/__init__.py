"""Interview emails: what they say (content) and their calendar attachment (ics).

Pure rendering, no sending: the email worker hands the result to the mail port.
"""

from shared.mail.content import Audience, EmailKind, RenderedEmail, describe_time, render_email
from shared.mail.ics import CANCEL, REQUEST, build_ics

__all__ = ["CANCEL", "REQUEST", "Audience", "EmailKind", "RenderedEmail", "build_ics", "describe_time", "render_email"]
