"""AWS refusals as one line: the action, the resource and the fix (shared by provisioning and pipeline).

botocore raises `ClientError` with the service's error code; three families are the user's to fix, not bugs:
- denied (`AccessDenied*`, `Unauthorized*`): the credentials may not call that action on that resource. In an AWS
  Academy learner lab that is typically `iam:CreateRole` (use the lab's LabRole instead) or a region outside
  the lab's.
- unrecognised credentials (`UnrecognizedClientException`, `InvalidClientTokenId`, ...): the key pair is
  wrong or belongs to an ended lab session.
- expired (`ExpiredToken*`, `RequestExpired`): the session token ran out (AWS Academy sessions last 4 hours).

Only `exc.response` and `exc.operation_name` are read, so this module needs no botocore import.
"""

from __future__ import annotations

import enum
import re
from typing import Any

DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException",
          "AuthorizationError", "Forbidden"}
UNRECOGNIZED = {"UnrecognizedClientException", "InvalidClientTokenId", "InvalidAccessKeyId",
                "SignatureDoesNotMatch", "IncompleteSignature", "InvalidSignatureException"}
EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}

REFRESH = ("copy fresh AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (AWS Academy: 'AWS Details' "
           "on the lab page) into .env")
_RESOURCE = re.compile(r"on resource:?\s*(?P<resource>\S+)", re.IGNORECASE)


class Refusal(enum.Enum):
    DENIED = "denied"
    UNRECOGNIZED = "unrecognized"
    EXPIRED = "expired"


def error_code(exc: Any) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def refusal(exc: Any) -> Refusal | None:
    """Which kind of credentials/permission refusal `exc` (a botocore ClientError) is, if any."""
    code = error_code(exc)
    if code in EXPIRED:
        return Refusal.EXPIRED
    if code in UNRECOGNIZED:
        return Refusal.UNRECOGNIZED
    if code in DENIED:
        return Refusal.DENIED
    return None


def explain(exc: Any, *, service: str, resource: str | None = None, region: str | None = None,
            role_variable: str | None = None) -> str | None:
    """One line for a refusal (None for any other error): `service:Operation`, the resource, and the fix.

    `role_variable` names the setting that lets the user bring an existing role (PIPELINE_ROLE_ARN) when the
    refused action is an IAM one.
    """
    kind = refusal(exc)
    if kind is None:
        return None
    action = f"{service}:{getattr(exc, 'operation_name', '?')}"
    message = str(getattr(exc, "response", {}).get("Error", {}).get("Message", ""))
    match = _RESOURCE.search(message)
    target = resource or (match.group("resource") if match else None) or "(resource not named by AWS)"
    where = f" in {region}" if region else ""
    if kind is Refusal.EXPIRED:
        return (f"{action} on {target}{where}: the AWS session token has expired ({error_code(exc)}); "
                f"start the lab session again and {REFRESH}")
    if kind is Refusal.UNRECOGNIZED:
        return (f"{action} on {target}{where}: AWS does not recognise these credentials ({error_code(exc)}): "
                f"{REFRESH}; check AWS_REGION too")
    if service == "iam" and role_variable:
        fix = (f"these credentials may not manage IAM roles (AWS Academy): set {role_variable}=<LabRole ARN>, "
               f"e.g. arn:aws:iam::<account id>:role/LabRole (IAM console > Roles > LabRole), then run again")
    else:
        fix = (f"these credentials may not do that{where}: check AWS_REGION (AWS Academy labs allow us-east-1 and "
               f"us-west-2) and that the lab session is running")
    return f"AWS denied {action} on {target} ({error_code(exc)}): {fix}"
