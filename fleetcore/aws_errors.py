"""AWS refusals as one line: the action, the resource and the fix (shared by provisioning and pipeline).

botocore raises `ClientError` with the service's error code; three families are the user's to fix, not bugs:
- denied (`AccessDenied*`, `Unauthorized*`): the credentials may not call that action on that resource. In an AWS
  Academy learner lab that is typically `iam:CreateRole` (use the lab's LabRole instead) or a region outside
  the lab's.
- unrecognised credentials (`UnrecognizedClientException`, `InvalidClientTokenId`, ...): the key pair is
  wrong or belongs to an ended lab session.
- expired (`ExpiredToken*`, `RequestExpired`): the session token ran out (AWS Academy sessions last 4 hours).
- S3's `InvalidToken` (a session token that is malformed, or missing beside temporary keys) is an unrecognised one:
  https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList

Two cases carry no error code worth the name: a HEAD answer has no body, so S3's HeadBucket refusal is a bare
`403` (`head_forbidden` names the permission HeadBucket needs, s3:ListBucket), and failures before any request
(`BotoCoreError`: an SSO session to renew, a token provider that failed, no credentials, no network) come as
botocore exceptions, told apart here by class name (`botocore_line`).

Only `exc.response`, `exc.operation_name` and class names are read, so this module needs no botocore import.
"""

from __future__ import annotations

import enum
import re
from typing import Any

DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException",
          "AuthorizationError", "Forbidden"}
UNRECOGNIZED = {"UnrecognizedClientException", "InvalidClientTokenId", "InvalidAccessKeyId",
                "SignatureDoesNotMatch", "IncompleteSignature", "InvalidSignatureException", "InvalidToken"}
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


# botocore exception classes (names, so no import) whose fix is to renew an SSO or token-provider login.
SSO_FAILURES = {"SSOError", "SSOTokenLoadError", "UnauthorizedSSOTokenError", "TokenRetrievalError",
                "PendingAuthorizationExpiredError", "InvalidGrantError", "SSOTokenRefreshError"}
NO_CREDENTIALS = {"NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError",
                  "InvalidConfigError", "RefreshWithMFAUnsupportedError"}


def head_forbidden(bucket: str, *, variable: str, operation: str = "HeadBucket") -> str:
    """The one line for a bare 403 on `s3:HeadBucket`: S3 sends no body with a HEAD answer, so a missing
    s3:ListBucket (what HeadBucket needs: https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html)
    and a bucket of another account look the same; name both, the permission first."""
    return (f"s3:{operation} on s3://{bucket} answered 403 Forbidden (a HEAD answer carries no reason): these "
            f"credentials lack s3:ListBucket on arn:aws:s3:::{bucket} (grant it), or the bucket belongs to another "
            f"account (bucket names are global: set {variable} to another name)")


def botocore_line(exc: BaseException, *, service: str, region: str | None = None,
                  profile: str | None = None) -> str:
    """One line for a failure before AWS answered (a botocore `BotoCoreError`), with what to run."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    login = f"aws sso login --profile {profile}" if profile else "aws sso login (with AWS_PROFILE set)"
    if names & SSO_FAILURES:
        return (f"the AWS SSO / token login for {service} failed or expired ({type(exc).__name__}: {exc}): run "
                f"`{login}`, then run again")
    if names & NO_CREDENTIALS:
        return (f"no usable AWS credentials for {service} ({type(exc).__name__}: {exc}): {REFRESH}, or run "
                f"`{login}` for an SSO profile")
    where = f" in {region}" if region else ""
    return f"cannot reach AWS {service}{where} ({type(exc).__name__}: {exc}); check the network and AWS_ENDPOINT_URL"
