"""infra/resources.json and the IAM policies are generated from the models and the stage config: no drift."""
from __future__ import annotations

import copy
import json

import pytest

from chalicelib.adapters.dynamodb.models import MODELS_BY_SETTING, TTL_ATTRIBUTE
from chalicelib.settings import settings_from_env
from devtools import gen_infra, infra_operations
from devtools.environment import chalice_config, chalice_stage_env
from devtools.processes import PROJECT_DIR


def test_committed_infra_files_match_what_the_models_render():
    stale = [str(path.relative_to(PROJECT_DIR)) for path, text in gen_infra.rendered_files().items()
             if not path.exists() or path.read_text() != text]
    assert stale == [], f"regenerate with `python -m devtools.gen_infra`: {stale}"


@pytest.fixture(scope="module")
def template():
    return json.loads(gen_infra.RESOURCES_PATH.read_text())


def test_every_table_is_on_demand_with_point_in_time_recovery(template):
    for setting in MODELS_BY_SETTING:
        props = template["Resources"][gen_infra.logical_id(setting)]["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_ttl_and_indexes_follow_the_models(template):
    for setting, model in MODELS_BY_SETTING.items():
        props = template["Resources"][gen_infra.logical_id(setting)]["Properties"]
        ttl = props.get("TimeToLiveSpecification")
        assert ttl == ({"AttributeName": TTL_ATTRIBUTE[setting], "Enabled": True} if setting in TTL_ATTRIBUTE
                       else None)
        model_indexes = {index["index_name"] for index in model._get_schema()["global_secondary_indexes"]}
        assert {i["IndexName"] for i in props.get("GlobalSecondaryIndexes", [])} == model_indexes


@pytest.mark.parametrize("stage", gen_infra.deployed_stages())
def test_table_names_in_the_template_are_the_names_the_app_reads_in_each_stage(template, stage):
    app_settings = settings_from_env(chalice_stage_env(stage))
    for setting in MODELS_BY_SETTING:
        name = template["Resources"][gen_infra.logical_id(setting)]["Properties"]["TableName"]["Fn::Sub"]
        assert name.replace("${Stage}", stage) == getattr(app_settings, setting)
    assert stage in template["Parameters"]["Stage"]["AllowedValues"]


@pytest.mark.parametrize("stage", gen_infra.deployed_stages())
def test_stage_policy_grants_exactly_that_stages_tables(stage):
    policy_file = chalice_config()["stages"][stage]["iam_policy_file"]
    policy = json.loads((PROJECT_DIR / ".chalice" / policy_file).read_text())
    table_statement = next(s for s in policy["Statement"] if s["Sid"] == "Tables")
    app_settings = settings_from_env(chalice_stage_env(stage))
    expected = {f"arn:aws:dynamodb:*:*:table/{getattr(app_settings, s)}" for s in MODELS_BY_SETTING}
    assert set(table_statement["Resource"]) == expected
    assert not any(action.endswith("*") for s in policy["Statement"] for action in s["Action"])


def test_unknown_route_gateway_response_is_the_contract_404(template):
    responses = template["Resources"][gen_infra.CHALICE_REST_API]["Properties"]["DefinitionBody"][
        "x-amazon-apigateway-gateway-responses"]
    missing = responses["MISSING_AUTHENTICATION_TOKEN"]
    assert missing["statusCode"] == "404"
    assert json.loads(missing["responseTemplates"]["application/json"])["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("gateway_response,status,code", [
    ("UNAUTHORIZED", "401", "UNAUTHENTICATED"), ("ACCESS_DENIED", "403", "FORBIDDEN"),
    ("REQUEST_TOO_LARGE", "413", "PAYLOAD_TOO_LARGE"), ("UNSUPPORTED_MEDIA_TYPE", "415", "UNSUPPORTED_MEDIA_TYPE"),
    ("THROTTLED", "429", "THROTTLED"), ("DEFAULT_4XX", None, "BAD_REQUEST"), ("DEFAULT_5XX", None, "INTERNAL_ERROR"),
])
def test_the_gateways_own_answers_use_the_error_contract(template, gateway_response, status, code):
    responses = template["Resources"][gen_infra.CHALICE_REST_API]["Properties"]["DefinitionBody"][
        "x-amazon-apigateway-gateway-responses"]
    answer = responses[gateway_response]
    assert answer.get("statusCode") == status
    body = json.loads(answer["responseTemplates"]["application/json"])
    assert body == {"error": {"code": code, "message": body["error"]["message"], "details": {}}}


def test_chalice_config_has_the_four_stages_with_dev_auth_only_locally():
    stages = chalice_config()["stages"]
    assert set(stages) >= {"local", "test", "dev", "prod"}
    for name in ("local", "test"):
        assert stages[name]["environment_variables"]["AUTH_MODE"] == "dev"
    for name in gen_infra.deployed_stages():
        env = stages[name]["environment_variables"]
        assert env["AUTH_MODE"] == "cognito" and env["COGNITO_USER_POOL_ARN"].startswith("arn:aws:cognito-idp:")


def test_tables_are_kept_on_delete_but_not_left_behind_by_a_failed_first_create(template):
    tables = [r for r in template["Resources"].values() if r.get("Type") == "AWS::DynamoDB::Table"]
    assert tables and all(t["DeletionPolicy"] == "RetainExceptOnCreate" for t in tables)


def test_failed_scheduled_runs_and_stream_records_go_to_dead_letter_queues(template):
    resources = template["Resources"]
    for function in ("SendReminders", "ExpireHolds", "ReconcilePayments"):
        config = resources[f"{function}InvokeConfig"]["Properties"]
        assert config["FunctionName"] == {"Ref": function}
        assert config["DestinationConfig"]["OnFailure"]["Destination"] == {
            "Fn::GetAtt": ["ScheduledFailuresQueue", "Arn"]}
        assert resources[f"{function}SendsFailures"]["Properties"]["Roles"] == [{"Ref": f"{function}Role"}]
    stream = resources["RealtimeFromRequests"]["Properties"]["Events"]["RealtimeFromRequestsDynamodbEventSource"]
    assert stream["Properties"]["BisectBatchOnFunctionError"] is True
    assert 0 < stream["Properties"]["MaximumRetryAttempts"] <= 5
    assert stream["Properties"]["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["StreamFailuresQueue", "Arn"]}


def test_alarms_reach_the_topic_for_every_function_queue_and_app_metric(template):
    alarms = {name: r["Properties"] for name, r in template["Resources"].items()
              if r.get("Type") == "AWS::CloudWatch::Alarm"}
    assert all(a["AlarmActions"] == [{"Ref": "AlarmTopicArn"}] for a in alarms.values())
    watched = {(a["Namespace"], a["MetricName"]) for a in alarms.values()}
    assert {("AWS/Lambda", "Errors"), ("AWS/Lambda", "Throttles"), ("AWS/Lambda", "IteratorAge"),
            ("AWS/ApiGateway", "5XXError"), ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
            ("ServicePortal", "ConfigurationError"), ("ServicePortal", "ReconcileIncomplete"),
            ("ServicePortal", "ReminderFailed"), ("ServicePortal", "StripeSignatureRejected")} <= watched
    functions = {a["Dimensions"][0]["Value"]["Ref"] for a in alarms.values()
                 if a["Namespace"] == "AWS/Lambda" and a["MetricName"] == "Errors"}
    assert functions == {"APIHandler", "SendReminders", "ExpireHolds", "ReconcilePayments", "RealtimeFromRequests",
                         "WebsocketConnect", "WebsocketMessage", "WebsocketDisconnect"}


def test_every_function_log_group_has_a_retention(template):
    groups = [r["Properties"] for r in template["Resources"].values() if r.get("Type") == "AWS::Logs::LogGroup"]
    assert len(groups) == 9 and all(0 < g["RetentionInDays"] <= 365 for g in groups)  # 8 functions + access log


def test_the_rest_stage_writes_json_access_logs_keyed_by_the_correlation_id(template):
    resources = template["Resources"]
    api = resources[gen_infra.CHALICE_REST_API]
    setting = api["Properties"]["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    line = json.loads(setting["Format"])  # API Gateway writes one JSON object per request
    assert line["requestId"] == "$context.requestId" and line["status"] == "$context.status"
    assert resources["ApiAccessLogGroup"]["Properties"]["RetentionInDays"] > 0
    # The stage can only log once the region's API Gateway account has a CloudWatch role.
    assert api["DependsOn"] == ["ApiGatewayAccount"]
    role = resources[resources["ApiGatewayAccount"]["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]]
    assert role["DeletionPolicy"] == "Retain"  # another stage's logs keep working after this stack is deleted
    assert role["Properties"]["ManagedPolicyArns"] == [
        "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"]


def test_a_packaged_template_without_access_logs_fails_the_package_check(template):
    rest_api = copy.deepcopy(template["Resources"][gen_infra.CHALICE_REST_API])
    rest_api["Properties"]["DefinitionBody"]["paths"] = {}  # chalice adds the routes when packaging
    assert gen_infra.packaged_problems({"Resources": {gen_infra.CHALICE_REST_API: rest_api}}) == []
    del rest_api["DependsOn"], rest_api["Properties"]["AccessLogSetting"]
    assert gen_infra.packaged_problems({"Resources": {gen_infra.CHALICE_REST_API: rest_api}}) == [
        "REST stage: no access log setting", "REST stage: created before the account's CloudWatch role is set"]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_each_function_gets_only_what_it_needs(stage):
    functions = chalice_config()["stages"][stage]["lambda_functions"]
    assert set(functions) == set(gen_infra.FUNCTION_GRANTS)

    def sids(function: str) -> set[str]:
        policy = json.loads((PROJECT_DIR / ".chalice" / functions[function]["iam_policy_file"]).read_text())
        return {s["Sid"] for s in policy["Statement"]}

    for websocket in ("websocket_connect", "websocket_message", "websocket_disconnect"):
        assert "Mail" not in sids(websocket) and "SecretParameters" not in sids(websocket)
    for schedule in ("send_reminders", "expire_holds", "reconcile_payments"):
        assert "WebsocketPush" not in sids(schedule) and "RequestStream" not in sids(schedule)
    assert "Mail" in sids("send_reminders") and "RequestStream" in sids("realtime_from_requests")
    policy = json.loads((PROJECT_DIR / ".chalice" / functions["websocket_message"]["iam_policy_file"]).read_text())
    [push] = [s for s in policy["Statement"] if s["Sid"] == "WebsocketPush"]
    assert push["Resource"] == {"Fn::Sub": "arn:aws:execute-api:${AWS::Region}:${AWS::AccountId}:${WebsocketAPI}/*"}
    assert functions["reconcile_payments"]["lambda_timeout"] > 300  # a night's reconciliation finishes in one run


def test_the_gateways_own_answers_carry_cors_and_401_names_bearer(template):
    responses = template["Resources"][gen_infra.CHALICE_REST_API]["Properties"]["DefinitionBody"][
        "x-amazon-apigateway-gateway-responses"]
    for name, answer in responses.items():
        params = answer["responseParameters"]
        assert params["gatewayresponse.header.Access-Control-Allow-Origin"] == "method.request.header.Origin", name
        assert "X-Request-Id" in params["gatewayresponse.header.Access-Control-Expose-Headers"], name
        assert params["gatewayresponse.header.Vary"] == "'Origin'", name
    assert responses["UNAUTHORIZED"]["responseParameters"]["gatewayresponse.header.WWW-Authenticate"] == "'Bearer'"


def test_a_packaged_template_without_preflights_fails_the_package_check():
    access_logs = infra_operations.rest_api_access_logs()
    ok = {"Resources": {gen_infra.CHALICE_REST_API: {"DependsOn": access_logs["DependsOn"], "Properties": {
        **access_logs["Properties"], "DefinitionBody": {
            "paths": {"/a": {"get": {"security": [{"x": []}]}, "options": {}}},
            "x-amazon-apigateway-gateway-responses": gen_infra.gateway_responses()}}}}}
    assert gen_infra.packaged_problems(ok) == []
    ok_paths = ok["Resources"][gen_infra.CHALICE_REST_API]["Properties"]["DefinitionBody"]["paths"]
    ok_paths["/b"] = {"get": {}}
    ok_paths["/c"] = {"get": {}, "options": {"security": [{"x": []}]}}
    assert gen_infra.packaged_problems(ok) == ["/b: no OPTIONS method", "/c: OPTIONS behind an authorizer"]
