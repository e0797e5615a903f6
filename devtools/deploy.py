"""`make deploy-check STAGE=…` and `make deploy STAGE=…`: the one way to put a stage on AWS.

A stage's real settings live in `deploy/<stage>.parameters.json` (not committed; copy
`deploy/parameters.example.json`). `check` refuses a missing file, a `Stage` that is not the stage asked for,
missing values, placeholders and malformed values, naming each one. `deploy` checks, packages the app merged with
the generated template (`chalice package --merge-template infra/resources.json`), precompiles the bundle, uploads
it (`aws cloudformation package`) and deploys the stack with those parameters (`aws cloudformation deploy`);
`REVIEW=1` stops at the change set for a human to look at.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

from devtools.environment import chalice_config
from devtools.processes import PROJECT_DIR

PLACEHOLDER = re.compile(r"REPLACE|CHANGE[-_ ]?ME|PackageTimeStandIn|example\.(com|org|net)|<[^>]*>|"
                         r"123456789012|000000000000|TODO|XXXX", re.IGNORECASE)
FORMATS = {
    "Stage": (r"^[a-z][a-z0-9-]*$", "a stage name"),
    "CognitoUserPoolArn": (r"^arn:aws:cognito-idp:[a-z0-9-]+:\d{12}:userpool/[a-z0-9-]+_[A-Za-z0-9]+$",
                           "arn:aws:cognito-idp:<region>:<account>:userpool/<pool id>"),
    "CognitoAppClientId": (r"^[a-z0-9]{20,128}$", "the pool's app client id"),
    "MailFrom": (r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", "an e-mail address verified in SES"),
    "PortalBaseUrl": (r"^https://[^/\s]+(/[^\s]*)?$", "an https:// URL"),
    "AlarmTopicArn": (r"^arn:aws:sns:[a-z0-9-]+:\d{12}:[\w-]+$", "arn:aws:sns:<region>:<account>:<topic>"),
    "ArtifactBucket": (r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", "an S3 bucket for the packaged code"),
}


def parameters_path(stage: str) -> Path:
    return PROJECT_DIR / "deploy" / f"{stage}.parameters.json"


def check(stage: str, path: Path | None = None) -> list[str]:
    """Every problem that would make the deploy fail or run on placeholders (empty: ready to deploy)."""
    path = path or parameters_path(stage)
    stages = chalice_config()["stages"]
    if stage not in stages or not stages[stage].get("iam_policy_file"):
        return [f"STAGE={stage}: not a deployed stage of .chalice/config.json"]
    if not path.exists():
        return [f"{path.relative_to(PROJECT_DIR)}: missing (copy deploy/parameters.example.json and fill it in)"]
    try:
        values = json.loads(path.read_text())
    except ValueError as exc:
        return [f"{path.name}: not JSON ({exc})"]
    problems = []
    for name, (pattern, expected) in FORMATS.items():
        value = values.get(name)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{name}: missing")
        elif PLACEHOLDER.search(value):
            problems.append(f"{name}: placeholder {value!r}")
        elif not re.match(pattern, value):
            problems.append(f"{name}: {value!r} is not {expected}")
    if values.get("Stage") not in (None, stage) and not any(p.startswith("Stage") for p in problems):
        problems.append(f"Stage: {values.get('Stage')!r} does not match STAGE={stage}")
    unknown = sorted(set(values) - set(FORMATS))
    if unknown:
        problems.append(f"unknown parameters: {', '.join(unknown)}")
    return problems


def deploy(stage: str, review: bool) -> int:
    problems = check(stage)
    if problems:
        _report(stage, problems)
        return 1
    values = json.loads(parameters_path(stage).read_text())
    out = PROJECT_DIR / ".local" / "deploy" / stage
    subprocess.run(["rm", "-rf", str(out)], check=True)
    run = [str(Path(sys.executable).parent / "chalice"), "package", "--stage", stage, "--merge-template",
           "infra/resources.json", str(out)]
    subprocess.run(run, cwd=PROJECT_DIR, check=True)
    from devtools.precompile import precompile_zip
    precompile_zip(out / "deployment.zip")
    subprocess.run(["aws", "cloudformation", "package", "--template-file", str(out / "sam.json"), "--s3-bucket",
                    values["ArtifactBucket"], "--output-template-file", str(out / "packaged.yaml")], check=True)
    overrides = [f"{k}={v}" for k, v in values.items() if k != "ArtifactBucket"]
    command = ["aws", "cloudformation", "deploy", "--template-file", str(out / "packaged.yaml"), "--stack-name",
               f"service-portal-{stage}", "--capabilities", "CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND",
               "--parameter-overrides", *overrides]
    if review:
        command.append("--no-execute-changeset")
    return subprocess.run(command).returncode


def _report(stage: str, problems: list[str]) -> None:
    print(f"deploy-check: STAGE={stage} is not ready to deploy:", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("check", "deploy"))
    parser.add_argument("--stage", required=True)
    parser.add_argument("--review", action="store_true", help="create the change set without executing it")
    args = parser.parse_args(argv)
    if args.command == "deploy":
        return deploy(args.stage, args.review)
    problems = check(args.stage)
    if problems:
        _report(args.stage, problems)
        return 1
    print(f"deploy-check: STAGE={args.stage} is ready to deploy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
