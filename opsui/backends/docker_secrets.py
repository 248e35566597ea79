"""Hiding credentials in the environment a container was started with.

The detail view and ``opsui inspect`` show a container's env, and a screen or a JSON
dump is easily shared or recorded, so credentials are replaced before the text leaves
the backend. Two kinds of rule, both here so the whole policy can be read and reviewed
in one place (the detail view, ``inspect --json`` and the rollback's env diff all get
their env through :func:`mask_env`):

- by name: a value whose variable's name says credential (``DB_PASSWORD``, ``API_KEY``)
  is hidden whole; a name that only hints at one (``GITHUB_PAT``, ``STRIPE_SK``) hides
  a value that looks random, not a short ordinary word;
- by shape, whatever the name: tokens of well-known services (GitHub, GitLab, Stripe,
  Slack, AWS, Google, npm), JWTs, private key blocks, passwords in URLs and in
  ``password=`` pairs, secret query parameters, and the secret part of webhook URLs
  (scheme and host stay visible, so the operator still sees where it points).
"""

from __future__ import annotations

import math
import re
from collections import Counter

from opsui.domain.sanitize import clean

MASK = "••••••"


# Names that hold secrets: whole words anywhere, or a KEY/AUTH/... segment of FOO_BAR names.
_SECRET_WORDS = re.compile(
    r"PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|CREDENTIAL|APIKEY|ACCESSKEY|AUTHORIZATION"
)
_SECRET_SEGMENTS = re.compile(
    r"(?:^|[_.-])(?:[A-Z0-9]*KEYS?|O?AUTH|DSN|PASS|PWD|PW|SALT)(?:$|[_.-])"
)
# Segments that hint at a credential without saying so (a personal access token, a
# secret key, a signature): the value is hidden when it looks random.
_HINT_SEGMENTS = re.compile(r"(?:^|[_.-])(?:PAT|SK|SIG|SIGNATURE|HMAC)(?:$|[_.-])")
_WEBHOOK_NAME = re.compile(r"WEBHOOK|HOOK_URL|HOOKURL")

_TOKENS = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    r"gh[pousr]_[A-Za-z0-9]{20,}"                       # GitHub tokens
    r"|github_pat_[A-Za-z0-9_]{20,}"                    # GitHub fine-grained PAT
    r"|glpat-[A-Za-z0-9_-]{20,}"                        # GitLab PAT
    r"|(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}"        # Stripe secret / restricted keys
    r"|whsec_[A-Za-z0-9]{20,}"                          # Stripe webhook signing secret
    r"|xox[abprs]-[A-Za-z0-9-]{10,}|xapp-[A-Za-z0-9-]{10,}"  # Slack tokens
    r"|(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])"        # AWS access key ids
    r"|AIza[0-9A-Za-z_-]{35}"                           # Google API keys
    r"|npm_[A-Za-z0-9]{36}"                             # npm tokens
    r"|eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"  # JWTs
    r")"
)
_PRIVATE_KEY = re.compile(r"-----BEGIN[A-Z ]*PRIVATE KEY( BLOCK)?-----")
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^\s/]*(?=@)")
_KV_PASSWORD = re.compile(r"(?i)(?P<head>\b(?:password|passwd|pwd)=)[^\s;&]+")
_SECRET_QUERY = re.compile(
    r"(?i)(?P<head>[?&](?:access_token|refresh_token|id_token|token|api_?key|key|secret|"
    r"client_secret|sig|signature|password|pass|pwd|auth)=)[^&#\s]+")
# Webhook URLs whose path is the credential: everything after the service's prefix.
_SECRET_PATHS = re.compile(
    r"(?i)(?P<head>https?://(?:"
    r"hooks\.slack\.com/(?:services|workflows|triggers)/"
    r"|(?:[a-z0-9-]+\.)?discord(?:app)?\.com/api/webhooks/"
    r"|[a-z0-9-]+\.webhook\.office\.com/webhookb2/"
    r"|outlook\.office\.com/webhook/"
    r"|api\.telegram\.org/bot"
    r"))[^\s?#]+")
_ANY_URL_PATH = re.compile(r"(?i)(?P<head>https?://[^/\s?#]+/)[^\s?#]+")


def is_secret_name(name: str) -> bool:
    """Whether an env variable's name says its value is a credential."""
    upper = name.upper()
    if upper == "PWD":  # the working directory, not a password
        return False
    return bool(_SECRET_WORDS.search(upper) or _SECRET_SEGMENTS.search(upper))


def looks_random(value: str) -> bool:
    """A value that reads like a generated credential, not a word, path or version:
    long, one piece, letters mixed with digits, and many different characters."""
    if len(value) < 16 or any(ch.isspace() for ch in value) or "/" in value:
        return False
    kinds = sum(1 for test in (str.islower, str.isupper, str.isdigit)
                if any(test(ch) for ch in value))
    if kinds < 2:
        return False
    counts = Counter(value)
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return entropy >= 3.5


def mask_value(value: str, name: str = "") -> str:
    """``value`` with every credential in it hidden; ``name`` (the variable's) adds the
    rules by name: the whole value of a credential's name, a random-looking value under
    a name that hints at one, the path of a URL under a webhook's name."""
    upper = name.upper()
    if value and is_secret_name(name):
        return MASK
    if _PRIVATE_KEY.search(value):
        return MASK
    if _HINT_SEGMENTS.search(upper) and looks_random(value):
        return MASK
    value = _TOKENS.sub(MASK, value)
    value = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, value)
    value = _KV_PASSWORD.sub(lambda m: m.group("head") + MASK, value)
    value = _SECRET_QUERY.sub(lambda m: m.group("head") + MASK, value)
    value, known = _SECRET_PATHS.subn(lambda m: m.group("head") + MASK, value)
    if not known and _WEBHOOK_NAME.search(upper):
        value = _ANY_URL_PATH.sub(lambda m: m.group("head") + MASK, value)
    return value


def mask_env(env: object) -> tuple[tuple[str, str], ...]:
    """``["K=V", ...]`` as sanitised pairs, credentials hidden (:func:`mask_value`)."""
    pairs = []
    for item in env if isinstance(env, list) else []:
        key, _, value = str(item).partition("=")
        pairs.append((clean(key), clean(mask_value(value, key))))
    return tuple(pairs)
