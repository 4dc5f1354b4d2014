"""moto in-process, seeded with backdated IAM and CloudTrail state, for opsdeck's tests.

moto records creation dates from its clock, so the seeding runs under freezegun inside the
same process as the server (EMULATORS.md §1): the standalone moto_server cannot be told
what time it is. After seeding, the server keeps serving until stdin closes (the test that
started it ended or died).

    python3 moto_account.py SCENARIO [--lookup-events FILE]

SCENARIO is `review` (an account with a user in every state the review knows) or
`bench:N` (N users with keys and policies). Prints one JSON line: {"url": ..., "keys": ...}.

moto 5.2 lacks CloudTrail LookupEvents (it answers HTTP 500). With --lookup-events, that
one call, and nothing else, is answered from FILE: a LookupEvents response in AWS's wire
format (every field LookupEvents returns, and CloudTrailEvent as the compact JSON string AWS
sends, with the record fields of the CloudTrail record-contents reference; written after
those references, not captured from an account, since no account is reachable from here),
whose times are shifted so the newest event is an hour old, `{{key:USER}}` replaced by USER's
first access key id, and the request's one LookupAttribute, StartTime/EndTime, MaxResults
(at most 50) and NextToken applied as AWS does, newest first.
"""

import json
import os
import sys
import threading
from datetime import datetime, timedelta, timezone

os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "AKIAOPSDECKSEED00001")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "seed-secret")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import boto3  # noqa: E402
from freezegun import freeze_time  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

ACCOUNT = "123456789012"
NOW = datetime.now(timezone.utc).replace(microsecond=0)
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
STAR = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
READ_BILLING = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "aws-portal:View*", "Resource": "*"}]}
)

CIS_4_1 = '{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") && ($.sourceIPAddress!="delivery.logs.amazonaws.com") && ($.eventName!="HeadBucket") }'
CIS_4_3_WRONG = '{ $.userIdentity.type = "IAMUser" }'
CIS_4_4 = "{($.eventName=DeleteGroupPolicy)||($.eventName=DeleteRolePolicy)||($.eventName=DeleteUserPolicy)||($.eventName=PutGroupPolicy)||($.eventName=PutRolePolicy)||($.eventName=PutUserPolicy)||($.eventName=CreatePolicy)||($.eventName=DeletePolicy)||($.eventName=CreatePolicyVersion)||($.eventName=DeletePolicyVersion)||($.eventName=AttachRolePolicy)||($.eventName=DetachRolePolicy)||($.eventName=AttachUserPolicy)||($.eventName=DetachUserPolicy)||($.eventName=AttachGroupPolicy)||($.eventName=DetachGroupPolicy)}"
CIS_4_5 = "{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || ($.eventName = DeleteTrail) || ($.eventName = StartLogging) || ($.eventName = StopLogging) }"


def client(url, service, key=None):
    kw = {}
    if key:
        kw = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", **kw)


def days(n):
    return NOW - timedelta(days=n)


def set_root(mfa, keys):
    from moto.iam.models import iam_backends

    summary = iam_backends[ACCOUNT]["aws"].account_summary
    summary._account_mfa_enabled = mfa
    summary._account_access_keys_present = keys


def virtual_mfa(iam, user):
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=f"{user}-mfa")["VirtualMFADevice"]["SerialNumber"]
    iam.enable_mfa_device(UserName=user, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321")


def use_key(url, key):
    """Any signed request marks the key used at the current (frozen) time."""
    client(url, "sts", key).get_caller_identity()


def seed_review(url):
    keys = {}
    iam = client(url, "iam")
    with freeze_time(days(200)):
        iam.create_group(GroupName="developers")
        iam.create_group(GroupName="admins")
        iam.attach_group_policy(GroupName="admins", PolicyArn=ADMIN)
        # alice: console with MFA, a key from setup day that was last used 100 days ago.
        iam.create_user(UserName="alice")
        iam.create_login_profile(UserName="alice", Password="Pa55word!alice")
        iam.add_user_to_group(UserName="alice", GroupName="developers")
        keys["alice"] = iam.create_access_key(UserName="alice")["AccessKey"]
        # bob: a key created with the user and never used.
        iam.create_user(UserName="bob")
        iam.add_user_to_group(UserName="bob", GroupName="developers")
        keys["bob"] = iam.create_access_key(UserName="bob")["AccessKey"]
        # ivan: a console password set 200 days ago and never used.
        iam.create_user(UserName="ivan")
        iam.create_login_profile(UserName="ivan", Password="Pa55word!ivan")
        iam.add_user_to_group(UserName="ivan", GroupName="developers")
        for u in ["dave", "erin", "frank", "grace", "henry", "judy"]:
            iam.create_user(UserName=u)
    with freeze_time(days(100)):
        use_key(url, keys["alice"])
    with freeze_time(days(30)):
        keys["dave"] = iam.create_access_key(UserName="dave")["AccessKey"]
    with freeze_time(days(10)):
        keys["dave-2"] = iam.create_access_key(UserName="dave")["AccessKey"]
        keys["judy"] = iam.create_access_key(UserName="judy")["AccessKey"]
    with freeze_time(days(1)):
        use_key(url, keys["dave"])
        use_key(url, keys["dave-2"])
        use_key(url, keys["judy"])
    virtual_mfa(iam, "alice")
    virtual_mfa(iam, "ivan")
    # carol: console without MFA.
    iam.create_user(UserName="carol")
    # Created now: moto dates a password from its user's creation, not from the password.
    iam.create_user(UserName="ops-shared")
    iam.create_login_profile(UserName="carol", Password="Pa55word!carol")
    for u in ["carol", "dave", "judy", "ops-shared"]:
        iam.add_user_to_group(UserName=u, GroupName="developers")
    iam.create_login_profile(UserName="ops-shared", Password="Pa55word!ops")
    virtual_mfa(iam, "ops-shared")
    # erin: a narrow policy attached to the user itself.
    billing = iam.create_policy(PolicyName="billing-read", PolicyDocument=READ_BILLING)["Policy"]["Arn"]
    iam.add_user_to_group(UserName="erin", GroupName="developers")
    iam.attach_user_policy(UserName="erin", PolicyArn=billing)
    # frank: administrator through the admins group.
    iam.add_user_to_group(UserName="frank", GroupName="admins")
    # grace: an inline *:* policy.
    iam.add_user_to_group(UserName="grace", GroupName="developers")
    iam.put_user_policy(UserName="grace", PolicyName="break-glass", PolicyDocument=STAR)
    # henry is in no group.
    iam.update_account_password_policy(MinimumPasswordLength=8, PasswordReusePrevention=5)
    # AccountMFAEnabled and AccountAccessKeysPresent are hard-coded 0 in moto: set them.
    set_root(1, 1)

    # A single-region trail without validation or KMS, delivering to CloudWatch Logs.
    s3 = client(url, "s3")
    s3.create_bucket(Bucket="trail-logs")
    logs = client(url, "logs")
    logs.create_log_group(logGroupName="cloudtrail")
    group_arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:cloudtrail:*"
    ct = client(url, "cloudtrail")
    ct.create_trail(
        Name="main",
        S3BucketName="trail-logs",
        CloudWatchLogsLogGroupArn=group_arn,
        CloudWatchLogsRoleArn=f"arn:aws:iam::{ACCOUNT}:role/trail-to-logs",
    )
    ct.start_logging(Name="main")
    ct.put_event_selectors(
        TrailName="main", EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": True}]
    )
    # CIS 4.x: 4.5 complete, 4.4 with an alarm whose topic nobody subscribed to, 4.1 a
    # filter without an alarm, 4.3 a filter that does not catch root, 4.2 and 4.6 nothing.
    sns = client(url, "sns")
    sqs = client(url, "sqs")
    security = sns.create_topic(Name="security")["TopicArn"]
    queue = sqs.create_queue(QueueName="security-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=security, Protocol="sqs", Endpoint=queue_arn)
    nobody = sns.create_topic(Name="nobody-listens")["TopicArn"]
    cw = client(url, "cloudwatch")
    for name, pattern, metric, topic in [
        ("trail-changes", CIS_4_5, "CloudTrailChanges", security),
        ("policy-changes", CIS_4_4, "IAMPolicyChanges", nobody),
        ("unauthorized", CIS_4_1, "UnauthorizedCalls", None),
        ("root-usage", CIS_4_3_WRONG, "RootUsage", None),
    ]:
        logs.put_metric_filter(
            logGroupName="cloudtrail",
            filterName=name,
            filterPattern=pattern,
            metricTransformations=[{"metricName": metric, "metricNamespace": "CISBenchmark", "metricValue": "1"}],
        )
        if topic:
            cw.put_metric_alarm(
                AlarmName=f"{name}-alarm",
                MetricName=metric,
                Namespace="CISBenchmark",
                Statistic="Sum",
                Period=300,
                EvaluationPeriods=1,
                Threshold=1,
                ComparisonOperator="GreaterThanOrEqualToThreshold",
                AlarmActions=[topic],
            )
    return keys


def seed_bench(url, n):
    iam = client(url, "iam")
    iam.create_group(GroupName="developers")
    iam.create_group(GroupName="admins")
    iam.attach_group_policy(GroupName="admins", PolicyArn=ADMIN)
    policy = iam.create_policy(PolicyName="billing-read", PolicyDocument=READ_BILLING)["Policy"]["Arn"]

    def one(i):
        c = client(url, "iam")
        name = f"user{i:04d}"
        c.create_user(UserName=name)
        c.add_user_to_group(UserName=name, GroupName="admins" if i % 50 == 0 else "developers")
        c.create_access_key(UserName=name)
        if i % 3 == 0:
            c.create_login_profile(UserName=name, Password=f"Pa55word!{i}")
        if i % 7 == 0:
            c.attach_user_policy(UserName=name, PolicyArn=policy)
        if i % 11 == 0:
            c.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=READ_BILLING)

    with freeze_time(days(120)):
        threads = [threading.Thread(target=lambda k=k: [one(i) for i in range(k, n, 8)]) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return {}


def serve_lookup_events(path, keys):
    """Answers LookupEvents (which moto lacks) from a recorded AWS response, as AWS pages it."""
    from moto.cloudtrail.responses import CloudTrailResponse

    with open(path) as f:
        text = f.read()
    for user, key in keys.items():
        text = text.replace("{{key:%s}}" % user, key["AccessKeyId"])
    recorded = json.loads(text)
    newest = max(e["EventTime"] for e in recorded["Events"])
    shift = (NOW - timedelta(hours=1)).timestamp() - newest
    for e in recorded["Events"]:
        e["EventTime"] += shift
        detail = json.loads(e["CloudTrailEvent"])
        when = datetime.fromtimestamp(e["EventTime"], timezone.utc)
        detail["eventTime"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        # AWS sends the record as compact JSON in a string.
        e["CloudTrailEvent"] = json.dumps(detail, separators=(",", ":"))
    recorded["Events"].sort(key=lambda e: -e["EventTime"])

    def lookup_events(self):
        attrs = self._get_param("LookupAttributes") or []
        if len(attrs) > 1:
            from moto.core.exceptions import JsonRESTError

            raise JsonRESTError("InvalidLookupAttributesException", "You can specify only one lookup attribute.")
        events = recorded["Events"]
        for a in attrs:
            key, value = a.get("AttributeKey"), a.get("AttributeValue")
            if key == "ReadOnly":
                events = [e for e in events if str(e.get("ReadOnly", "")).lower() == value.lower()]
            else:
                events = [e for e in events if e.get(key) == value]
        start, end = self._get_param("StartTime"), self._get_param("EndTime")
        if start is not None:
            events = [e for e in events if e["EventTime"] >= float(start)]
        if end is not None:
            events = [e for e in events if e["EventTime"] <= float(end)]
        size = min(int(self._get_param("MaxResults") or 50), 50)
        at = int(self._get_param("NextToken") or 0)
        page = {"Events": events[at : at + size]}
        if at + size < len(events):
            page["NextToken"] = str(at + size)
        return json.dumps(page)

    CloudTrailResponse.lookup_events = lookup_events


def main():
    scenario = sys.argv[1]
    lookup = None
    if "--lookup-events" in sys.argv:
        lookup = sys.argv[sys.argv.index("--lookup-events") + 1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    if scenario == "review":
        keys = seed_review(url)
    elif scenario.startswith("bench:"):
        keys = seed_bench(url, int(scenario.split(":")[1]))
    else:
        keys = {}
    if lookup:
        serve_lookup_events(lookup, keys)
    print(json.dumps({"url": url, "keys": {u: k["AccessKeyId"] for u, k in keys.items()}}), flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
