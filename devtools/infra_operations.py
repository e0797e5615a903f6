"""Operations resources of the merged template: where failures go and who hears about them.

- Scheduled functions (reminders, hold expiry, reconciliation) are invoked asynchronously by EventBridge: an
  `AWS::Lambda::EventInvokeConfig` retries a failed run twice and then sends the event to an SQS dead-letter
  queue instead of dropping it.
- The requests-stream consumer bisects a failing batch, gives up on a record after a few attempts or a day, and
  sends what it gave up on to its own dead-letter queue, so one bad record never blocks the shard.
- Alarms (to the `AlarmTopicArn` SNS topic): API 5xx, errors and throttles of every function, stream iterator
  age, any message in a dead-letter queue, and the app's own metrics for configuration errors, incomplete
  reconciliation runs, reminder send failures, refunds Stripe refused, disputes opened and spikes of
  rejected webhook signatures.
- Every function's log group with a retention period (created before the function first logs).
- REST stage access logs: one JSON line per request in their own log group, keyed by the API Gateway request id,
  which is also the correlation id of the app's logs for that request (chalicelib/observability.py).
"""
from __future__ import annotations

SCHEDULED = ("SendReminders", "ExpireHolds", "ReconcilePayments")
STREAM_CONSUMER = "RealtimeFromRequests"  # chalice's logical id for the on_dynamodb_record handler
FUNCTIONS = ("APIHandler", *SCHEDULED, STREAM_CONSUMER, "WebsocketConnect", "WebsocketMessage",
             "WebsocketDisconnect")
LOG_RETENTION_DAYS = 30
DLQ_RETENTION_SECONDS = 14 * 24 * 3600  # SQS maximum: two weeks to look at what failed
NAMESPACE = "ServicePortal"
SERVICE_DIMENSION = [{"Name": "service", "Value": "service-portal"}]
# App metrics that page someone: (metric, threshold per 5 minutes, what it means).
APP_ALARMS = (
    ("ConfigurationError", 1, "A deployed stage lacks a secret or setting (503 CONFIGURATION_ERROR)."),
    ("ReconcileIncomplete", 1, "Nightly reconciliation stopped before finishing."),
    ("ReminderFailed", 1, "Reminder e-mails could not be recorded for sending."),
    ("RefundRefused", 1, "Stripe refused a refund the app asked for: an admin must settle it (flagged list)."),
    ("DisputeOpened", 1, "A cardholder disputed a payment: evidence is due by the note's dueBy (flagged list)."),
    ("OutboxParked", 1, "An e-mail failed every attempt and was parked: an operator must look (outbox table)."),
    ("MessageStreamMalformedRecord", 1, "The requests stream carried a record no message could be read from."),
    ("StripeSignatureRejected", 20, "Many Stripe webhooks with a bad signature (wrong secret or an attack)."),
    ("RealtimeStreamMalformedRecord", 1, "The requests stream carried a record the consumer could not read."),
)


# Merged into the stream consumer's event source (devtools/gen_infra.py points it at the requests table).
STREAM_FAILURE_HANDLING = {
    "BisectBatchOnFunctionError": True, "MaximumRetryAttempts": 3, "MaximumRecordAgeInSeconds": 86400,
    # Type SQS: SAM grants the function's role sqs:SendMessage on the queue.
    "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": ["StreamFailuresQueue", "Arn"]}}},
}


# Stage settings that must be real in a deployed stage: template parameters (deploy/<stage>.parameters.json,
# checked by `make deploy-check`), passed to every function's environment, never committed placeholders.
STAGE_PARAMETERS = {
    "CognitoUserPoolArn": ("COGNITO_USER_POOL_ARN", "Cognito user pool whose ID tokens the API accepts."),
    "CognitoAppClientId": ("COGNITO_APP_CLIENT_ID", "App client id of the portal in that pool."),
    "MailFrom": ("MAIL_FROM", "Verified SES sender address for confirmations and reminders."),
    "PortalBaseUrl": ("PORTAL_BASE_URL", "HTTPS origin of the portal (links in e-mails, Checkout redirects)."),
}


def parameters() -> dict:
    out = {name: {"Type": "String", "Description": description}
           for name, (_, description) in STAGE_PARAMETERS.items()}
    out["AlarmTopicArn"] = {"Type": "String", "Description": "SNS topic that receives every alarm."}
    return out


def function_environment() -> dict:
    """Patches of every function's environment: the stage parameters, and the requests stream's real ARN."""
    variables = {env: {"Ref": name} for name, (env, _) in STAGE_PARAMETERS.items()}
    variables["REQUESTS_STREAM_ARN"] = {"Fn::GetAtt": ["RequestsTable", "StreamArn"]}
    return {function: {"Properties": {"Environment": {"Variables": variables}}} for function in FUNCTIONS}


def resources() -> dict:
    out: dict = {"ScheduledFailuresQueue": _queue(), "StreamFailuresQueue": _queue()}
    for function in SCHEDULED:
        out[f"{function}InvokeConfig"] = {
            "Type": "AWS::Lambda::EventInvokeConfig",
            "Properties": {"FunctionName": {"Ref": function}, "Qualifier": "$LATEST", "MaximumRetryAttempts": 2,
                           "MaximumEventAgeInSeconds": 3600,
                           "DestinationConfig": {"OnFailure": {
                               "Destination": {"Fn::GetAtt": ["ScheduledFailuresQueue", "Arn"]}}}}}
        out[f"{function}SendsFailures"] = _may_send_to(f"{function}Role", "ScheduledFailuresQueue")
    for function in FUNCTIONS:
        out[f"{function}LogGroup"] = {
            "Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete",
            "Properties": {"LogGroupName": {"Fn::Sub": f"/aws/lambda/${{{function}}}"},
                           "RetentionInDays": LOG_RETENTION_DAYS}}
        out[f"{function}ErrorsAlarm"] = _alarm(f"Errors of {function}", "AWS/Lambda", "Errors",
                                               [{"Name": "FunctionName", "Value": {"Ref": function}}], 1)
        out[f"{function}ThrottlesAlarm"] = _alarm(f"Throttles of {function}", "AWS/Lambda", "Throttles",
                                                  [{"Name": "FunctionName", "Value": {"Ref": function}}], 1)
    out["StreamIteratorAgeAlarm"] = _alarm(
        "The requests stream consumer is more than 5 minutes behind", "AWS/Lambda", "IteratorAge",
        [{"Name": "FunctionName", "Value": {"Ref": STREAM_CONSUMER}}], 300_000, statistic="Maximum")
    out["Api5xxAlarm"] = _alarm("The REST API answered 5xx", "AWS/ApiGateway", "5XXError",
                                [{"Name": "ApiName", "Value": {"Ref": "AWS::StackName"}}], 5)  # SAM names the API after the stack
    for queue in ("ScheduledFailuresQueue", "StreamFailuresQueue"):
        out[f"{queue}DepthAlarm"] = _alarm(
            f"A failed event waits in {queue}", "AWS/SQS", "ApproximateNumberOfMessagesVisible",
            [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}], 1, statistic="Maximum")
    for metric, threshold, meaning in APP_ALARMS:
        out[f"{metric}Alarm"] = _alarm(meaning, NAMESPACE, metric, SERVICE_DIMENSION, threshold)
    out.update(access_log_resources())
    return out


# One JSON line per request; $context.requestId joins it to the app's log lines (their correlation_id).
ACCESS_LOG_FORMAT = ('{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
                     '"requestTime":"$context.requestTime","method":"$context.httpMethod",'
                     '"resourcePath":"$context.resourcePath","path":"$context.path","status":"$context.status",'
                     '"responseLength":"$context.responseLength","latencyMs":"$context.responseLatency",'
                     '"integrationLatencyMs":"$context.integrationLatency",'
                     '"errorType":"$context.error.responseType","userAgent":"$context.identity.userAgent"}')
PUSH_TO_CLOUDWATCH_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"


def access_log_resources() -> dict:
    """The REST stage's access log group, and the role API Gateway needs to write any log. That role is a
    region-wide account setting (`AWS::ApiGateway::Account`): every stage's stack sets it to a role with the same
    AWS-managed policy, and the role is retained, so deleting one stage never stops another stage's logs."""
    return {
        "ApiAccessLogGroup": {
            "Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete",
            "Properties": {"LogGroupName": {"Fn::Sub": "/aws/apigateway/${AWS::StackName}-access"},
                           "RetentionInDays": LOG_RETENTION_DAYS}},
        "ApiGatewayCloudWatchRole": {
            "Type": "AWS::IAM::Role", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
            "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
                 "Action": "sts:AssumeRole"}]},
                "ManagedPolicyArns": [PUSH_TO_CLOUDWATCH_POLICY]}},
        "ApiGatewayAccount": {
            "Type": "AWS::ApiGateway::Account",
            "Properties": {"CloudWatchRoleArn": {"Fn::GetAtt": ["ApiGatewayCloudWatchRole", "Arn"]}}},
    }


def rest_api_access_logs() -> dict:
    """Merged into chalice's RestAPI (AWS::Serverless::Api): the stage writes access logs once the account
    has its CloudWatch role."""
    return {"DependsOn": ["ApiGatewayAccount"],
            "Properties": {"AccessLogSetting": {"DestinationArn": {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]},
                                                "Format": ACCESS_LOG_FORMAT}}}


def _queue() -> dict:
    return {"Type": "AWS::SQS::Queue",
            "Properties": {"MessageRetentionPeriod": DLQ_RETENTION_SECONDS, "SqsManagedSseEnabled": True}}


def _may_send_to(role: str, queue: str) -> dict:
    """A policy on chalice's role letting Lambda deliver the function's failed events to `queue` (a separate
    resource: the template merge replaces lists, so patching the role's Policies would drop chalice's)."""
    return {"Type": "AWS::IAM::Policy", "Properties": {
        "PolicyName": f"SendFailuresTo{queue}", "Roles": [{"Ref": role}],
        "PolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": {"Fn::GetAtt": [queue, "Arn"]}}]}}}


def _alarm(description: str, namespace: str, metric: str, dimensions: list, threshold: int,
           statistic: str = "Sum") -> dict:
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmDescription": description, "Namespace": namespace, "MetricName": metric, "Dimensions": dimensions,
        "Statistic": statistic, "Period": 300, "EvaluationPeriods": 1, "Threshold": threshold,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
        "AlarmActions": [{"Ref": "AlarmTopicArn"}], "OKActions": [{"Ref": "AlarmTopicArn"}]}}
