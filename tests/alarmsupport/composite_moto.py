"""moto with a CloudWatch composite alarm: moto has no PutCompositeAlarm (HTTP 500), but its
backend takes an alarm rule in-process, and DescribeAlarms then lists it under
CompositeAlarms. Prints the port, then serves until stdin closes."""
import sys

import boto3
from moto.cloudwatch.models import cloudwatch_backends
from moto.server import ThreadedMotoServer

REGION = sys.argv[1]
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
cw = boto3.client(
    "cloudwatch",
    region_name=REGION,
    endpoint_url=f"http://{host}:{port}",
    aws_access_key_id="AKIAOPSDECKTEST0001",
    aws_secret_access_key="seed",
)
cw.put_metric_alarm(
    AlarmName="checkout-5xx-high",
    Namespace="AWS/ApplicationELB",
    MetricName="HTTPCode_Target_5XX_Count",
    Statistic="Sum",
    Period=60,
    EvaluationPeriods=5,
    Threshold=50.0,
    ComparisonOperator="GreaterThanThreshold",
)
cw.set_alarm_state(AlarmName="checkout-5xx-high", StateValue="ALARM", StateReason="5xx 212 > 50")
cloudwatch_backends["123456789012"][REGION].put_metric_alarm(
    name="checkout-degraded",
    namespace=None,
    metric_name=None,
    comparison_operator=None,
    evaluation_periods=None,
    period=None,
    threshold=None,
    statistic=None,
    description="checkout is degraded",
    dimensions=[],
    alarm_actions=[],
    rule='ALARM("checkout-5xx-high")',
)
cw.set_alarm_state(AlarmName="checkout-degraded", StateValue="ALARM", StateReason="checkout-5xx-high in ALARM")
print(f"PORT {port}", flush=True)
sys.stdin.read()
server.stop()
