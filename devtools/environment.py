"""Environment of the local stack: dummy AWS credentials, the chalice stage's variables, moto endpoints.

The chalice stage in .chalice/config.json is the one source of the table prefix and auth mode: `chalice local`
applies those variables over the process environment, so the seeder and the tests read them from the same
file to talk to the same tables the app uses.
"""
from __future__ import annotations

import json
import os
from typing import Mapping

from devtools.processes import PROJECT_DIR

REGION = "us-east-1"

# moto accepts any credentials; real-looking-but-fake values keep botocore from searching for a profile,
# and the metadata switch stops it from probing the EC2 instance-metadata endpoint.
DUMMY_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}

# Local-only secrets: long enough for HS256 (PyJWT warns below 32 bytes), obviously not for production.
LOCAL_SECRETS = {
    "DEV_TOKEN_SECRET": "local-dev-token-secret-change-me-0123456789",
    "LINK_SIGNING_SECRET": "local-link-secret-change-me-0123456789",
    "STRIPE_API_KEY": "sk_test_local",
    "STRIPE_WEBHOOK_SECRET": "whsec_local",
}


def chalice_config() -> dict:
    return json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())


def chalice_stage_env(stage: str) -> dict[str, str]:
    """The environment variables chalice gives the app in `stage` (global ones, then the stage's)."""
    config = chalice_config()
    if stage not in config.get("stages", {}):
        raise KeyError(f"stage {stage!r} is not defined in .chalice/config.json")
    return {**config.get("environment_variables", {}), **config["stages"][stage].get("environment_variables", {})}


def local_stack_env(moto_url: str, stage: str = "local", base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Everything a process of the local stack needs: base env + dummy AWS + secrets + stage vars + moto.

    Explicit secrets in `base` win over the local defaults; the stage's variables win over `base`, exactly as
    they do under `chalice local`.
    """
    env = dict(os.environ if base is None else base)
    for key, value in LOCAL_SECRETS.items():
        env.setdefault(key, value)
    env.update(DUMMY_AWS)
    env.update(chalice_stage_env(stage))
    env.update({
        "DYNAMODB_ENDPOINT": moto_url,
        "SES_ENDPOINT": moto_url,
        "CHALICE_STAGE": stage,
        "PYTHONUNBUFFERED": "1",
    })
    return env
