"""Credentials in a container's env are hidden by their shape too, not only by name;
ordinary values stay readable. (The real engine's side: tests/integration/
test_inspect_secrets.py.)"""

from __future__ import annotations

import pytest

from opsui.backends.docker_secrets import MASK, looks_random, mask_env, mask_value

# Made-up credentials in the real shapes (none of them is valid anywhere).
GH = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
STRIPE = "sk_live_" + "51Hx9QkLmN0pQrStUvWxYz12"
JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
       "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U")
KEY_BLOCK = "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAAA\\n-----END"


@pytest.mark.parametrize(("name", "value", "secret"), [
    ("GITHUB_PAT", GH, GH),
    ("CI_AUTH_HEADER_VALUE", f"Bearer {GH}", GH),
    ("GH_FINE", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuv", "github_pat_11ABC"),
    ("GH_OAUTH_APP", "gho_" + "z" * 36, "gho_zzz"),
    ("GH_SERVER", "ghs_" + "Q9" * 18, "ghs_Q9"),
    ("GH_USER", "ghu_" + "x1" * 18, "ghu_x1"),
    ("GH_REFRESH", "ghr_" + "y2" * 18, "ghr_y2"),
    ("GITLAB", "glpat-" + "Ab3" * 7, "glpat-Ab3"),
    ("STRIPE_SK", STRIPE, STRIPE),
    ("STRIPE_TEST", "sk_test_" + "4eC39HqLyjWDarjtT1zdp7dc", "4eC39HqLyjWDarjtT1zdp7dc"),
    ("STRIPE_RESTRICTED", "rk_live_" + "9aB8cD7eF6gH5iJ4", "9aB8cD7eF6gH5iJ4"),
    ("SLACK_BOT", "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOp", "AbCdEfGhIjKlMnOp"),
    ("SLACK_USER", "xoxp-" + "1234567890-abcdefABCDEF", "abcdefABCDEF"),
    ("AWS_ID_FOR_CI", "AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("STS_ID", "ASIAY34FZKBOKMUTVV7A", "ASIAY34FZKBOKMUTVV7A"),
    ("MAPS", "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "AIzaSyD-9tSrke72PouQMnMX"),
    ("SESSION_JWT", JWT, "eyJzdWIiOiIxMjM0NTY3ODkwIn0"),
    ("DEPLOY_IDENTITY", KEY_BLOCK, "b3BlbnNzaC1rZXkt"),
    ("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0000AAAA/B0000BBBB/"
                          "XXXXXXXXXXXXXXXXXXXXXXXX", "T0000AAAA/B0000BBBB"),
    ("ALERTS", "https://discord.com/api/webhooks/123456789/abcDEF-ghiJKL", "abcDEF-ghiJKL"),
    ("NOTIFY_HOOK_URL", "https://example.com/hook/3f9a8b7c6d5e", "3f9a8b7c6d5e"),
    ("CALLBACK", "https://api.example.com/v1?access_token=s3cr3tvalue&x=1", "s3cr3tvalue"),
    ("MIRROR", "https://deploy:hunter2horse@git.example.com/repo.git", "hunter2horse"),
    ("SIGNING_SK", "Zx8Kq2Lm9Np4Rs7Tv1Wy", "Zx8Kq2Lm9Np4Rs7Tv1Wy"),
])
def test_a_credential_is_hidden_by_its_shape(name: str, value: str, secret: str) -> None:
    shown = dict(mask_env([f"{name}={value}"]))[name]
    assert secret not in shown and MASK in shown


@pytest.mark.parametrize(("name", "value", "shown"), [
    ("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/XX",
     f"https://hooks.slack.com/services/{MASK}"),
    ("MIRROR", "https://deploy:pw@git.example.com/repo.git",
     f"https://deploy:{MASK}@git.example.com/repo.git"),
    ("CI_HEADER_VALUE", f"Bearer {GH}", f"Bearer {MASK}"),
    ("CALLBACK", "https://api.example.com/v1?token=abc&page=2",
     f"https://api.example.com/v1?token={MASK}&page=2"),
])
def test_where_it_points_stays_visible(name: str, value: str, shown: str) -> None:
    assert mask_value(value, name) == shown


@pytest.mark.parametrize(("name", "value"), [
    ("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
    ("LANG", "C.UTF-8"),
    ("HOSTNAME", "3f9a8b7c6d5e"),
    ("HOME", "/root"),
    ("HOMEPAGE", "https://example.com/docs/getting-started"),
    ("UPSTREAM_URL", "http://api.internal:8080/v1/orders?page=2"),
    ("DATABASE_URL", "postgres://app@db:5432/shop"),
    ("PG_VERSION", "15.4-1.pgdg120+1"),
    ("NODE_VERSION", "20.11.1"),
    ("APP_VERSION", "2.0.0-rc.1+build.20261201"),
    ("IMAGE_DIGEST", "sha256:0b5b2c1f0b1a4e6d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"),
    ("TZ", "Europe/Amsterdam"),
    ("JAVA_OPTS", "-Xmx512m -Dfile.encoding=UTF-8"),
    ("DISK_SK", "small"),
    ("PATCH_LEVEL", "3"),
    ("SKIP_MIGRATIONS", "true"),
    ("SLACK_CHANNEL", "#deploys"),
    ("STRIPE_MODE", "sk_live_ is the prefix of live keys"),
])
def test_ordinary_values_stay_visible(name: str, value: str) -> None:
    assert dict(mask_env([f"{name}={value}"]))[name] == value


def test_random_looking_means_generated_not_a_word_path_or_version() -> None:
    assert looks_random("Zx8Kq2Lm9Np4Rs7Tv1Wy")
    assert not looks_random("production-database")
    assert not looks_random("/var/lib/app/data")
    assert not looks_random("1.2.3-alpine3.19")
    assert not looks_random("aaaaaaaaaaaaaaaa1")
