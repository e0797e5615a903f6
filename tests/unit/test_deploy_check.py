"""`make deploy-check`: a fresh clone is refused with every placeholder named; a filled parameters file passes.
The merged template takes the stage settings from those parameters; the bundle is precompiled."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest

from devtools import deploy, gen_infra
from devtools.precompile import precompile_zip
from devtools.processes import PROJECT_DIR

FILLED = {"Stage": "prod",
          "CognitoUserPoolArn": "arn:aws:cognito-idp:eu-west-1:210987654321:userpool/eu-west-1_a1B2c3D4e",
          "CognitoAppClientId": "4k9s8d7f6g5h4j3k2l1m0n9b8v",
          "MailFrom": "bookings@homeservices.co.uk", "PortalBaseUrl": "https://book.homeservices.co.uk",
          "AlarmTopicArn": "arn:aws:sns:eu-west-1:210987654321:portal-alarms",
          "ArtifactBucket": "homeservices-deploy-artifacts"}


def test_a_stage_without_its_parameters_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(deploy, "PROJECT_DIR", tmp_path)
    [problem] = deploy.check("prod", tmp_path / "deploy" / "prod.parameters.json")
    assert "prod.parameters.json: missing" in problem


def test_the_committed_example_is_refused_with_every_placeholder_named():
    problems = deploy.check("dev", PROJECT_DIR / "deploy" / "parameters.example.json")
    named = {p.split(":")[0] for p in problems}
    assert named == set(deploy.FORMATS) - {"Stage"}
    assert all("placeholder" in p for p in problems)


def test_a_filled_file_passes(tmp_path):
    path = tmp_path / "prod.json"
    path.write_text(json.dumps(FILLED))
    assert deploy.check("prod", path) == []


@pytest.mark.parametrize("change, expected", [
    ({"Stage": "dev"}, "Stage: 'dev' does not match STAGE=prod"),
    ({"MailFrom": ""}, "MailFrom: missing"),
    ({"PortalBaseUrl": "http://book.homeservices.co.uk"}, "PortalBaseUrl: 'http://book.homeservices.co.uk' is not"),
    ({"CognitoUserPoolArn": "us-east-1_abc"}, "CognitoUserPoolArn: 'us-east-1_abc' is not"),
    ({"Extra": "x"}, "unknown parameters: Extra"),
])
def test_each_problem_is_named(tmp_path, change, expected):
    path = tmp_path / "prod.json"
    path.write_text(json.dumps({**FILLED, **change}))
    assert any(p.startswith(expected) for p in deploy.check("prod", path)), deploy.check("prod", path)


def test_the_cli_exits_non_zero_and_lists_the_problems():
    result = subprocess.run([sys.executable, "-m", "devtools.deploy", "check", "--stage", "staging"],
                            cwd=PROJECT_DIR, capture_output=True, text=True)
    assert result.returncode == 1 and "STAGE=staging: not a deployed stage" in result.stderr


def test_the_template_takes_stage_settings_from_parameters_not_from_the_committed_config():
    template = json.loads(gen_infra.RESOURCES_PATH.read_text())
    assert {"CognitoUserPoolArn", "CognitoAppClientId", "MailFrom", "PortalBaseUrl", "AlarmTopicArn"} <= set(
        template["Parameters"])
    security = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["securityDefinitions"]
    assert security["portal-users"]["x-amazon-apigateway-authorizer"]["providerARNs"] == [{"Ref": "CognitoUserPoolArn"}]
    for function in ("APIHandler", "SendReminders", "RealtimeFromRequests", "WebsocketConnect"):
        variables = template["Resources"][function]["Properties"]["Environment"]["Variables"]
        assert variables["MAIL_FROM"] == {"Ref": "MailFrom"}
        assert variables["COGNITO_USER_POOL_ARN"] == {"Ref": "CognitoUserPoolArn"}
        assert variables["REQUESTS_STREAM_ARN"] == {"Fn::GetAtt": ["RequestsTable", "StreamArn"]}


def test_the_bundle_is_precompiled_with_unchecked_hash_pycs(tmp_path):
    bundle = tmp_path / "deployment.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("app.py", "VALUE = 42\n")
        archive.writestr("pkg/__init__.py", "")
        archive.writestr("data.json", "{}")
    assert precompile_zip(bundle) == 2
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        pyc = archive.read("__pycache__/app.cpython-311.pyc")
    assert {"app.py", "pkg/__init__.py", "data.json", "pkg/__pycache__/__init__.cpython-311.pyc"} <= names
    assert int.from_bytes(pyc[4:8], "little") == 0b01  # PEP 552 flags: hash-based, unchecked
