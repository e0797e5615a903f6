"""Render infra/resources.json, infra/tables.json and .chalice/policy-<stage>.json from the code's definitions.

- Tables, keys, GSIs and TTL come from the pynamodb models (chalicelib.adapters.dynamodb.models).
- Table names come from Settings with each deployed stage's TABLE_PREFIX (.chalice/config.json), so the
  names CloudFormation creates are the names the Lambda reads from its environment.
- The IAM policies grant exactly those tables (and their indexes), SES from the stage's sender address,
  websocket pushes, logs and X-Ray.

`python -m devtools.gen_infra` rewrites the files; `--check` exits 1 if the committed files differ
(tests/unit/test_infra.py runs the same comparison).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from chalicelib.adapters.dynamodb.models import MODELS_BY_SETTING, TTL_ATTRIBUTE
from chalicelib.settings import settings_from_env
from devtools import infra_operations
from devtools.environment import chalice_config, chalice_stage_env
from devtools.processes import PROJECT_DIR

RESOURCES_PATH = PROJECT_DIR / "infra" / "resources.json"  # merge template for `chalice package`
TABLES_PATH = PROJECT_DIR / "infra" / "tables.json"  # standalone stack of the tables (for `chalice deploy`)
POLICY_PATH = PROJECT_DIR / ".chalice" / "policy-{stage}.json"
# chalice package names the REST API resource "RestAPI" (AWS::Serverless::Api, with an inline DefinitionBody).
CHALICE_REST_API = "RestAPI"


def deployed_stages() -> list[str]:
    """Stages that deploy to AWS: the ones with their own IAM policy file."""
    return sorted(name for name, stage in chalice_config()["stages"].items() if stage.get("iam_policy_file"))


def stage_table_prefix_template() -> str:
    """`<app>-${Stage}-`, checked against every deployed stage's TABLE_PREFIX (raises ValueError if one differs)."""
    app_name = chalice_config()["app_name"]
    for stage in deployed_stages():
        prefix = chalice_stage_env(stage).get("TABLE_PREFIX")
        if prefix != f"{app_name}-{stage}-":
            raise ValueError(f"stage {stage}: TABLE_PREFIX must be '{app_name}-{stage}-' (is {prefix!r}) "
                             "so CloudFormation and the app agree on table names")
    return app_name + "-${Stage}-"


def table_suffixes() -> dict[str, str]:
    """setting name -> table name without prefix, as Settings builds it."""
    bare = settings_from_env({"TABLE_PREFIX": "", "STAGE": "dev"})
    return {setting: getattr(bare, setting) for setting in MODELS_BY_SETTING}


def logical_id(setting: str) -> str:
    """catalog_table -> CatalogTable."""
    return "".join(word.capitalize() for word in setting.split("_"))


def _projection(projection: dict) -> dict:
    out = {"ProjectionType": projection["ProjectionType"]}
    if projection.get("NonKeyAttributes"):
        out["NonKeyAttributes"] = sorted(projection["NonKeyAttributes"])
    return out


def table_resource(setting: str, model: type, table_name: dict) -> dict:
    schema = model._get_schema()
    props: dict = {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": sorted(({"AttributeName": a["AttributeName"], "AttributeType": a["AttributeType"]}
                                        for a in schema["attribute_definitions"]),
                                       key=lambda a: a["AttributeName"]),
        "KeySchema": [{"AttributeName": k["AttributeName"], "KeyType": k["KeyType"]}
                      for k in sorted(schema["key_schema"], key=lambda k: k["KeyType"] != "HASH")],
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {"SSEEnabled": True},
    }
    indexes = sorted(schema.get("global_secondary_indexes") or [], key=lambda i: i["index_name"])
    if indexes:
        props["GlobalSecondaryIndexes"] = [{
            "IndexName": index["index_name"],
            "KeySchema": [{"AttributeName": k["AttributeName"], "KeyType": k["KeyType"]}
                          for k in sorted(index["key_schema"], key=lambda k: k["KeyType"] != "HASH")],
            "Projection": _projection(index["projection"]),
        } for index in indexes]
    if schema.get("local_secondary_indexes"):
        raise ValueError(f"{model.__name__}: local secondary indexes are not rendered; add them here first")
    stream = getattr(model.Meta, "stream_view_type", None)
    if stream:
        props["StreamSpecification"] = {"StreamViewType": stream}
    if setting in TTL_ATTRIBUTE:
        props["TimeToLiveSpecification"] = {"AttributeName": TTL_ATTRIBUTE[setting], "Enabled": True}
    # Bookings and payments are business records: keep the data if the stack is deleted or a table replaced.
    # RetainExceptOnCreate: kept when the stack is deleted, but removed when the stack's first create rolls back
    # (a fixed-name table left behind would block every retry with "already exists").
    return {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "RetainExceptOnCreate", "UpdateReplacePolicy": "Retain",
            "Properties": props}


def _error_template(code: str, message: str) -> str:
    return json.dumps({"error": {"code": code, "message": message, "details": {}}}, separators=(",", ":"))


def gateway_cors_headers() -> dict:
    """CORS on API Gateway's own answers (401 from the authorizer, 403, 429 throttling, 5xx), so a browser page
    can read their error body. The gateway cannot match an origin against the stage's list (the app does,
    chalicelib/api/cors.py), so it echoes the caller's Origin: these answers are the gateway's fixed error
    bodies, carry nothing of the user's and allow no credentials, so any page reading them learns nothing."""
    from chalicelib.api import cors

    return {"gatewayresponse.header.Access-Control-Allow-Origin": "method.request.header.Origin",
            "gatewayresponse.header.Access-Control-Expose-Headers": "'%s'" % ", ".join(cors.EXPOSE_HEADERS),
            "gatewayresponse.header.Vary": "'Origin'"}


def gateway_responses() -> dict:
    """API Gateway's own answers in the contract's error shape. Part of the API definition (not separate
    AWS::ApiGateway::GatewayResponse resources), so they are live with the API's first deployment."""
    def response(status: str | None, code: str, message: str, **headers: str) -> dict:
        parameters = {"gatewayresponse.header.Content-Type": "'application/json'", **gateway_cors_headers(),
                      **{f"gatewayresponse.header.{name}": f"'{value}'" for name, value in headers.items()}}
        answer = {"responseParameters": parameters,
                  "responseTemplates": {"application/json": _error_template(code, message)}}
        return {"statusCode": status, **answer} if status else answer  # None: keep the gateway's status

    return {
        # API Gateway answers an unknown path with 403 "Missing Authentication Token"; the contract says 404.
        "MISSING_AUTHENTICATION_TOKEN": response("404", "NOT_FOUND", "No route matches this path."),
        # Missing/invalid Cognito token on a protected route.
        "UNAUTHORIZED": response("401", "UNAUTHENTICATED", "A valid bearer token is required.",
                                 **{"WWW-Authenticate": "Bearer"}),
        "ACCESS_DENIED": response("403", "FORBIDDEN", "You are not allowed to do this."),
        "REQUEST_TOO_LARGE": response("413", "PAYLOAD_TOO_LARGE", "The request body is too large."),
        "UNSUPPORTED_MEDIA_TYPE": response("415", "UNSUPPORTED_MEDIA_TYPE",
                                           "The request body must be JSON (Content-Type: application/json)."),
        "THROTTLED": response("429", "THROTTLED", "Too many requests; retry later."),
        "QUOTA_EXCEEDED": response("429", "THROTTLED", "Too many requests; retry later."),
        "INTEGRATION_TIMEOUT": response("504", "TEMPORARILY_UNAVAILABLE", "The request timed out; retry later."),
        # Anything else the gateway answers itself keeps its status and gets the contract's body.
        "DEFAULT_4XX": response(None, "BAD_REQUEST", "The request could not be accepted."),
        "DEFAULT_5XX": response(None, "INTERNAL_ERROR", "An internal error occurred."),
    }


def packaged_problems(sam: dict) -> list[str]:
    """What a browser needs from the packaged template (`chalice package` merged with resources.json): every
    path has an OPTIONS method with no authorizer (preflights carry no token), and every gateway response
    carries the CORS headers; and what operators need: the stage writes access logs, after the account's
    CloudWatch role is set. `make lint-infra` runs this on .local/package/sam.json."""
    body = sam["Resources"][CHALICE_REST_API]["Properties"]["DefinitionBody"]
    problems = []
    for path, methods in sorted(body["paths"].items()):
        if "options" not in methods:
            problems.append(f"{path}: no OPTIONS method")
        elif methods["options"].get("security"):
            problems.append(f"{path}: OPTIONS behind an authorizer")
    for name, answer in body.get("x-amazon-apigateway-gateway-responses", {}).items():
        if not gateway_cors_headers().items() <= answer.get("responseParameters", {}).items():
            problems.append(f"gateway response {name}: no CORS headers")
    expected = infra_operations.rest_api_access_logs()
    if sam["Resources"][CHALICE_REST_API]["Properties"].get("AccessLogSetting") != \
            expected["Properties"]["AccessLogSetting"]:
        problems.append("REST stage: no access log setting")
    if "ApiGatewayAccount" not in sam["Resources"][CHALICE_REST_API].get("DependsOn", []):
        problems.append("REST stage: created before the account's CloudWatch role is set")
    return problems


def render_tables() -> dict:
    """The tables alone: a complete template to deploy on its own next to `chalice deploy`."""
    template = render_resources()
    template["Resources"] = {k: v for k, v in template["Resources"].items()
                             if v.get("Type") == "AWS::DynamoDB::Table"}
    template["Parameters"] = {"Stage": template["Parameters"]["Stage"]}
    template["Description"] = ("Service Portal: DynamoDB tables (generated by devtools/gen_infra.py from the "
                               "pynamodb models; standalone stack for use with `chalice deploy`).")
    return template


STREAM_CONSUMER = infra_operations.STREAM_CONSUMER
COGNITO_AUTHORIZER = "portal-users"  # chalicelib/api/routing.py cognito_authorizer()


def render_resources() -> dict:
    prefix = stage_table_prefix_template()
    suffixes = table_suffixes()
    resources: dict = {}
    outputs: dict = {}
    for setting, model in MODELS_BY_SETTING.items():
        name = {"Fn::Sub": prefix + suffixes[setting]}
        resources[logical_id(setting)] = table_resource(setting, model, name)
        outputs[logical_id(setting) + "Name"] = {"Value": {"Ref": logical_id(setting)}}
        if getattr(model.Meta, "stream_view_type", None):
            outputs[logical_id(setting) + "StreamArn"] = {"Value": {"Fn::GetAtt": [logical_id(setting), "StreamArn"]}}
    resources[CHALICE_REST_API] = {"Properties": {"DefinitionBody": {
        "x-amazon-apigateway-gateway-responses": gateway_responses(),
        # The authorizer trusts the user pool given at deploy time, not the package-time stand-in.
        "securityDefinitions": {COGNITO_AUTHORIZER: {"x-amazon-apigateway-authorizer": {
            "providerARNs": [{"Ref": "CognitoUserPoolArn"}]}}}}}}
    access_logs = infra_operations.rest_api_access_logs()
    resources[CHALICE_REST_API]["DependsOn"] = access_logs["DependsOn"]
    resources[CHALICE_REST_API]["Properties"].update(access_logs["Properties"])
    for function, patch in infra_operations.function_environment().items():
        resources[function] = patch
    # The stream consumer (app.realtime_from_requests) reads the requests table's stream: point its event
    # source at the table created here instead of the package-time stand-in ARN in the stage config.
    resources[STREAM_CONSUMER]["Properties"]["Events"] = {STREAM_CONSUMER + "DynamodbEventSource": {
        "Properties": {"Stream": {"Fn::GetAtt": [logical_id("requests_table"), "StreamArn"]},
                       **infra_operations.STREAM_FAILURE_HANDLING}}}
    resources.update(infra_operations.resources())
    stages = deployed_stages()
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "Service Portal: DynamoDB tables and API Gateway error responses (generated by "
                       "devtools/gen_infra.py from the pynamodb models; merged with chalice package "
                       "--merge-template).",
        "Parameters": {"Stage": {"Type": "String", "AllowedValues": stages, "Default": stages[0],
                                 "Description": "Deployed stage; must match `chalice package --stage`."},
                       **infra_operations.parameters()},
        "Resources": resources,
        "Outputs": outputs,
    }


def _secret_statements(settings) -> list[dict]:
    """Read access to exactly the stage's secret parameters (SSM SecureString names or Secrets Manager ARNs)."""
    names = [getattr(settings, f) for f in ("stripe_api_key_parameter", "stripe_webhook_secret_parameter",
                                            "link_signing_secret_parameter", "link_signing_secret_previous_parameter")]
    ssm = sorted(f"arn:aws:ssm:*:*:parameter/{n.lstrip('/')}" for n in names if n and not n.startswith("arn:"))
    vault = sorted(n for n in names if n and n.startswith("arn:aws:secretsmanager:"))
    statements = []
    if ssm:
        statements += [{"Sid": "SecretParameters", "Effect": "Allow", "Action": ["ssm:GetParameter"],
                        "Resource": ssm},
                       {"Sid": "SecretParametersDecrypt", "Effect": "Allow", "Action": ["kms:Decrypt"],
                        "Resource": "*", "Condition": {"StringLike": {"kms:ViaService": "ssm.*.amazonaws.com"}}}]
    if vault:
        statements.append({"Sid": "Secrets", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
                           "Resource": vault})
    return statements


# What each function may do (least privilege; chalice's per-function `iam_policy_file`). The API keeps the
# websocket push for admin changes; schedules never manage connections; websocket handlers never send mail; the
# stream consumer sends the messages it records (signed links need the secrets).
FUNCTION_GRANTS = {
    "api_handler": ("tables", "mail", "websocket", "secrets"),
    "send_reminders": ("tables", "mail", "secrets"),
    "send_outbox": ("tables", "mail", "secrets"),
    "expire_holds": ("tables", "secrets"),
    "reconcile_payments": ("tables", "secrets"),
    "realtime_from_requests": ("tables", "stream", "websocket", "mail", "secrets"),  # records and sends e-mails
    "websocket_connect": ("tables", "websocket"),
    "websocket_message": ("tables", "websocket"),
    "websocket_disconnect": ("tables",),
}


def policy_file(stage: str, function: str) -> str:
    return f"policy-{stage}-{function.replace('_', '-')}.json"


def render_policy(stage: str, grants: tuple[str, ...] = FUNCTION_GRANTS["api_handler"]) -> dict:
    env = chalice_stage_env(stage)
    settings = settings_from_env(env)
    tables = sorted(getattr(settings, setting) for setting in MODELS_BY_SETTING)
    table_arns = [f"arn:aws:dynamodb:*:*:table/{name}" for name in tables]
    index_arns = [arn + "/index/*" for arn in table_arns]
    statements = [
            {"Sid": "Tables", "Effect": "Allow",
             "Action": ["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem",
                        "dynamodb:DeleteItem", "dynamodb:DescribeTable", "dynamodb:GetItem",
                        "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"],
             "Resource": table_arns},
            {"Sid": "Indexes", "Effect": "Allow", "Action": ["dynamodb:Query"], "Resource": index_arns}]
    if "stream" in grants:
        statements.append(
            {"Sid": "RequestStream", "Effect": "Allow",
             "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                        "dynamodb:ListStreams"],
             "Resource": [arn + "/stream/*" for arn in table_arns if arn.endswith("service-requests")]})
    if "mail" in grants:
        statements.append(
            {"Sid": "Mail", "Effect": "Allow", "Action": ["ses:SendEmail", "ses:SendRawEmail"], "Resource": "*",
             "Condition": {"StringEquals": {"ses:FromAddress": {"Ref": "MailFrom"}}}})  # deploy parameter
    if "websocket" in grants:
        # This stage's websocket API only (chalice inlines the policy into the template, where Fn::Sub resolves).
        statements.append(
            {"Sid": "WebsocketPush", "Effect": "Allow", "Action": ["execute-api:ManageConnections"],
             "Resource": {"Fn::Sub": "arn:aws:execute-api:${AWS::Region}:${AWS::AccountId}:${WebsocketAPI}/*"}})
    if "secrets" in grants:
        statements += _secret_statements(settings)
    statements += [
            {"Sid": "Logs", "Effect": "Allow",
             "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": "arn:aws:logs:*:*:*"},
            # X-Ray has no resource-level permissions.
            {"Sid": "Tracing", "Effect": "Allow", "Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
             "Resource": "*"}]
    return {"Version": "2012-10-17", "Statement": statements}


def rendered_files() -> dict[Path, str]:
    files = {RESOURCES_PATH: render_resources(), TABLES_PATH: render_tables()}
    for stage in deployed_stages():
        stage_policy = chalice_config()["stages"][stage]["iam_policy_file"]
        files[PROJECT_DIR / ".chalice" / stage_policy] = render_policy(stage)
        for function, grants in FUNCTION_GRANTS.items():
            files[PROJECT_DIR / ".chalice" / policy_file(stage, function)] = render_policy(stage, grants)
    return {path: json.dumps(doc, indent=2) + "\n" for path, doc in files.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed file differs")
    parser.add_argument("--check-package", metavar="SAM_JSON", help="exit 1 if a packaged template lacks "
                        "preflights, CORS on gateway responses or stage access logs")
    args = parser.parse_args(argv)
    if args.check_package:
        problems = packaged_problems(json.loads(Path(args.check_package).read_text()))
        print("\n".join(problems) or "packaged template: every path has a preflight, gateway responses carry "
              "CORS, the stage writes access logs", file=sys.stderr if problems else sys.stdout)
        return 1 if problems else 0
    stale = []
    for path, text in rendered_files().items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        stale.append(path.relative_to(PROJECT_DIR))
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if args.check and stale:
        print("out of date (run `python -m devtools.gen_infra`): " + ", ".join(map(str, stale)), file=sys.stderr)
        return 1
    print("updated: " + ", ".join(map(str, stale)) if stale else "infra is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
