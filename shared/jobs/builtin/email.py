"""`email.send`: one e-mail through Amazon SES (moto on the laptop), from `settings.email_sender`.

Failures SES calls permanent (a rejected message, an invalid address or parameter, an unverified sender) fail
the job at once; throttling, SES's own 5xx and network errors retry with backoff. Neither the bodies nor the
subject are ever logged: job logs carry the recipient count and SES's message id only.
"""

from __future__ import annotations

from typing import Annotated

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field

from shared import aws
from shared.config import get_settings
from shared.jobs.context import JobContext
from shared.jobs.errors import NonRetryable
from shared.jobs.registry import job_type

MAX_RECIPIENTS = 50
MAX_SUBJECT_CHARS = 200
MAX_BODY_CHARS = 100_000

#: One address, loosely: something@domain.tld, no spaces, no angle brackets and no line breaks (no header
#: injection). SES judges deliverability; this only keeps obvious garbage and CR/LF out.
EMAIL_PATTERN = r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$"
Address = Annotated[str, Field(min_length=3, max_length=254, pattern=EMAIL_PATTERN)]

#: SES answers that mean "this message will never go out as it is".
PERMANENT_ERRORS = frozenset(
    {
        "MessageRejected",
        "InvalidParameterValue",
        "MailFromDomainNotVerified",
        "MailFromDomainNotVerifiedException",
        "ConfigurationSetDoesNotExist",
        "ConfigurationSetDoesNotExistException",
        "ValidationError",
    }
)
#: SES answers that mean "later": throttling and sending pauses an operator may lift.
RETRYABLE_ERRORS = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "LimitExceededException",
        "ServiceUnavailable",
        "InternalFailure",
        "AccountSendingPausedException",
        "ConfigurationSetSendingPausedException",
        "RequestTimeout",
    }
)


class SendEmail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: list[Address] = Field(min_length=1, max_length=MAX_RECIPIENTS)
    subject: str = Field(min_length=1, max_length=MAX_SUBJECT_CHARS, pattern=r"^[^\r\n]*$")
    text: str = Field(min_length=1, max_length=MAX_BODY_CHARS)
    html: str | None = Field(default=None, min_length=1, max_length=MAX_BODY_CHARS)
    reply_to: Address | None = None


class SesFailure(Exception):
    """A retryable SES failure; carries the error code only, never the message."""


@job_type("email.send", payload=SendEmail, max_attempts=5, retry_base_ms=2_000, retry_cap_ms=300_000, timeout_s=60)
def send_email(ctx: JobContext, payload: SendEmail) -> dict:
    body: dict = {"Text": {"Data": payload.text, "Charset": "UTF-8"}}
    if payload.html is not None:
        body["Html"] = {"Data": payload.html, "Charset": "UTF-8"}
    request = {
        "Source": get_settings().email_sender,
        "Destination": {"ToAddresses": list(payload.to)},
        "Message": {"Subject": {"Data": payload.subject, "Charset": "UTF-8"}, "Body": body},
    }
    if payload.reply_to:
        request["ReplyToAddresses"] = [payload.reply_to]
    try:
        answer = aws.client("ses").send_email(**request)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in RETRYABLE_ERRORS or status >= 500:
            raise SesFailure(f"SES did not send the e-mail ({code}); will retry") from None
        # Any other client error (the permanent ones above, access denied, ...) will not change by retrying.
        # SES's message names the address at most, never the body: keep it for the user to act on.
        raise NonRetryable(
            f"SES rejected the e-mail ({code})", details={"ses_error": code, "ses_message": str(error.get("Message"))}
        ) from None
    except BotoCoreError as exc:
        raise SesFailure(f"SES could not be reached ({type(exc).__name__}); will retry") from None
    message_id = answer["MessageId"]
    ctx.log("e-mail sent", data={"message_id": message_id, "recipients": len(payload.to)})
    return {"message_id": message_id}
