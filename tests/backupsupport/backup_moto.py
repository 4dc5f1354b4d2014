"""moto with RDS instances and S3 dump archives of known ages, for tests/backups_live.rs.

moto stamps everything "now" and reports LatestRestorableTime as "now" on every call, so the
ages are set inside the moto process: snapshot creation times and S3 LastModified on the
backend objects, and LatestRestorableTime through a property that reads a table here.
Argument: NOW as Unix seconds; every age below is relative to it. Prints the port, then
serves until stdin closes."""
import sys
from datetime import datetime, timedelta, timezone

import boto3
import moto.rds.models as rds_models
from moto.rds.models import rds_backends
from moto.s3.models import s3_backends
from moto.server import ThreadedMotoServer

ACCOUNT = "123456789012"
REGION = "us-east-1"
NOW = datetime.fromtimestamp(int(sys.argv[1]), tz=timezone.utc)


def ago(seconds):
    return NOW - timedelta(seconds=seconds)


# DB instance id -> LatestRestorableTime.
RESTORABLE = {}
rds_models.DBInstance.latest_restorable_time = property(
    lambda self: RESTORABLE.get(self.db_instance_identifier, NOW)
)

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
kw = dict(
    region_name=REGION,
    endpoint_url=f"http://{host}:{port}",
    aws_access_key_id="AKIAOPSDECKTEST0001",
    aws_secret_access_key="seed",
)
rds = boto3.client("rds", **kw)
s3 = boto3.client("s3", **kw)
backend = rds_backends[ACCOUNT][REGION]


def instance(name, retention):
    rds.create_db_instance(
        DBInstanceIdentifier=name,
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="opsdeck",
        MasterUserPassword="not-a-secret-1",
        BackupRetentionPeriod=retention,
    )


def snapshot_times(instance_id, ages):
    """Sets the creation time of each of the instance's snapshots: `ages` by identifier,
    and the automated snapshot moto made at creation under the key "automated"."""
    for snap in backend.database_snapshots.values():
        if snap.database.db_instance_identifier != instance_id:
            continue
        key = "automated" if snap.snapshot_type == "automated" else snap.db_snapshot_identifier
        if key in ages:
            snap.created = ago(ages[key])
            snap.original_snapshot_create_time = snap.created


# orders-db: point-in-time recovery 5 minutes behind; a daily automated snapshot and a
# manual one, older.
instance("orders-db", 7)
rds.create_db_snapshot(DBInstanceIdentifier="orders-db", DBSnapshotIdentifier="orders-manual")
snapshot_times("orders-db", {"automated": 20 * 3600, "orders-manual": 2 * 86400})
RESTORABLE["orders-db"] = ago(300)

# ledger-db: no automated backups (retention 0), so no point-in-time recovery: only manual
# snapshots, the newest three hours old.
instance("ledger-db", 0)
for name in ["ledger-3h", "ledger-1d"]:
    rds.create_db_snapshot(DBInstanceIdentifier="ledger-db", DBSnapshotIdentifier=name)
snapshot_times("ledger-db", {"automated": 4 * 86400, "ledger-3h": 3 * 3600, "ledger-1d": 86400})

# audit-db: point-in-time recovery lagging 50 minutes (near a 1 h RPO).
instance("audit-db", 7)
snapshot_times("audit-db", {"automated": 6 * 3600})
RESTORABLE["audit-db"] = ago(3000)

s3.create_bucket(Bucket="shop-dumps")
DUMPS = {
    # key: (bytes, age)
    "mall/mall-a.sql.gz": (10_000_000, 5400),
    "mall/mall-b.sql.gz": (12_000_000, 1500),
    "crm/crm-good.sql.gz": (3_000_000, 7200),
    "crm/crm-empty.sql.gz": (0, 600),
    "crm/": (0, 60),
}
bucket = s3_backends[ACCOUNT]["aws"].buckets["shop-dumps"]
for key, (size, age) in DUMPS.items():
    s3.put_object(Bucket="shop-dumps", Key=key, Body=b"x" * size)
    bucket.keys[key].last_modified = ago(age)

print(f"PORT {port}", flush=True)
sys.stdin.read()
server.stop()
