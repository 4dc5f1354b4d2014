//! AWS WAF log records parsed per second (the records as WAF writes them, headers and all),
//! ModSecurity 3 JSON audit records parsed per second (a record the real nginx + CRS wrote,
//! tests/fixtures/modsec_audit_record.json), and the heap one retained blocked request costs
//! in each, counted by a counting allocator.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use opsdeck::sources::aws::waf_log::{self, RETAINED, Retained};
use opsdeck::sources::modsec::record::AuditRecord;
use opsdeck::sources::modsec::tally::{RECENT, Tally};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const RECORDS: usize = 10_000;

/// What `build` makes, and the heap it holds (counted while it is alive).
fn heap<T>(build: impl FnOnce() -> T) -> (T, isize) {
    let before = LIVE.load(Ordering::Relaxed);
    let built = build();
    (built, LIVE.load(Ordering::Relaxed) - before)
}

/// A blocked request as WAF logs it (about 1.3 kB: six headers, labels, the rate-based
/// list), varied per `i` so no two records are the same.
fn record(i: usize) -> String {
    let ms = 1_764_640_000_000 + i as i64 * 7;
    let ip = format!("203.0.{}.{}", i / 256 % 256, i % 256);
    let (rule, action) = match i % 4 {
        0 => ("rate-limit-100", "BLOCK"),
        1 => ("AWS-AWSManagedRulesSQLiRuleSet", "BLOCK"),
        2 => ("blocked-ips", "BLOCK"),
        _ => ("Default_Action", "ALLOW"),
    };
    format!(
        r#"{{"timestamp":{ms},"formatVersion":1,"webaclId":"arn:aws:wafv2:ap-northeast-2:123456789012:regional/webacl/shop-web-acl/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111","terminatingRuleId":"{rule}","terminatingRuleType":"REGULAR","action":"{action}","terminatingRuleMatchDetails":[{{"conditionType":"SQL_INJECTION","sensitivityLevel":"HIGH","location":"QUERY_STRING","matchedData":["1","OR","1"]}}],"httpSourceName":"ALB","httpSourceId":"123456789012-app/shop-alb/0123456789abcdef","ruleGroupList":[{{"ruleGroupId":"AWS#AWSManagedRulesSQLiRuleSet","terminatingRule":null,"nonTerminatingMatchingRules":[],"excludedRules":null}}],"rateBasedRuleList":[{{"rateBasedRuleId":"arn:aws:wafv2:ap-northeast-2:123456789012:regional/ratebasedrule/rate-limit-100/r1","rateBasedRuleName":"rate-limit-100","limitKey":"IP","maxRateAllowed":100,"evaluationWindowSec":"60"}}],"nonTerminatingMatchingRules":[],"requestHeadersInserted":null,"responseCodeSent":null,"httpRequest":{{"clientIp":"{ip}","country":"KR","headers":[{{"name":"Host","value":"shop.example.com"}},{{"name":"User-Agent","value":"Mozilla/5.0 (X11; Linux x86_64) sqlmap/1.7.2"}},{{"name":"Accept","value":"*/*"}},{{"name":"Accept-Encoding","value":"gzip, deflate"}},{{"name":"X-Forwarded-For","value":"{ip}"}},{{"name":"Connection","value":"keep-alive"}}],"uri":"/product/{i}","args":"id=10%20UNION%20SELECT%20username,password%20FROM%20users--","httpVersion":"HTTP/1.1","httpMethod":"GET","requestId":"1-6752f0a1-{i:024x}"}},"labels":[{{"name":"awswaf:managed:aws:sql-database:SQLi_QueryArguments"}}]}}"#
    )
}

fn bench(c: &mut Criterion) {
    let records: Vec<String> = (0..RECORDS).map(record).collect();
    let mut group = c.benchmark_group("waf_log");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function("parse_10000_records", |b| {
        b.iter(|| {
            for r in &records {
                black_box(waf_log::parse(black_box(r)).unwrap());
            }
        })
    });
    group.bench_function("retain_10000_records", |b| {
        b.iter(|| {
            let mut kept = Retained::default();
            kept.add(records.iter().map(String::as_str));
            black_box(kept.recent().len())
        })
    });
    group.finish();

    // ModSecurity: the captured SQLi probe, each copy from its own client and id.
    let fixture = include_str!("../tests/fixtures/modsec_audit_record.json").trim_end();
    let audit: Vec<String> = (0..RECORDS)
        .map(|i| {
            fixture
                .replace(
                    r#""client_ip":"127.0.0.1""#,
                    &format!(r#""client_ip":"203.0.{}.{}""#, i / 256 % 256, i % 256),
                )
                .replace(r#""unique_id":""#, &format!(r#""unique_id":"{i:08}-"#))
        })
        .collect();
    let tz = jiff::tz::TimeZone::UTC;
    let mut group = c.benchmark_group("modsec_audit");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function("parse_10000_records", |b| {
        b.iter(|| {
            for r in &audit {
                black_box(AuditRecord::parse(black_box(r.as_bytes()), &tz).unwrap());
            }
        })
    });
    group.finish();

    // Memory: the tally holding its full table of recent blocked requests, all in one
    // minute (its per-minute counts included), minus an empty one.
    let records: Vec<AuditRecord> = audit
        .iter()
        .take(RECENT)
        .map(|r| AuditRecord::parse(r.as_bytes(), &tz).unwrap())
        .collect();
    let (tally, bytes) = heap(|| {
        let mut tally = Tally::default();
        for r in &records {
            tally.add(r);
        }
        tally
    });
    let n = tally.recent().len();
    println!(
        "modsec_audit/memory: {n} retained blocked requests (with their minute's counts) hold {bytes} bytes of heap, {} bytes each",
        bytes / n as isize
    );

    // Memory: a full store of blocked requests, minus an empty one.
    let blocked: Vec<String> = (0..RETAINED * 2)
        .map(|i| record(i / 3 * 4 + i % 3))
        .collect();
    let (kept, bytes) = heap(|| {
        let mut kept = Retained::default();
        kept.add(blocked.iter().map(String::as_str));
        kept
    });
    let n = kept.recent().len();
    println!(
        "waf_log/memory: {n} retained blocked requests hold {bytes} bytes of heap, {} bytes each",
        bytes / n as isize
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
