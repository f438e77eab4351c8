//! The billing clients against the fake Sonar and Splynx over real HTTP: auth modes, paging
//! edges, quirks, error modes, webhook signatures, and the mapping of what was read.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use gamops::billing::http::{HttpConfig, RetryPolicy};
use gamops::billing::mapping::{MapContext, SystemRules, map_customers};
use gamops::billing::sonar::SonarClient;
use gamops::billing::splynx::{SplynxClient, main_attribute};
use gamops::billing::webhook::{
    ReplayGuard, SplynxHook, WebhookError, verify_sonar, verify_splynx,
};
use gamops::billing::{BillingError, CustomerStatus, Secret};
use gamops::lab::billing::{Faults, SonarFake, SonarFakeConfig, SplynxFake, SplynxFakeConfig};
use gamops::lab::billing::{sonar as sonar_fake, splynx as splynx_fake};
use gamops::model::billing::SplynxAuthMode;
use gamops::model::{BillingMapping, Device, Plans};

fn fast() -> HttpConfig {
    HttpConfig {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(100),
            rate_limit_delay: Duration::from_millis(300),
        },
        ..HttpConfig::default()
    }
}

async fn sonar(n: u64) -> SonarFake {
    SonarFake::start(SonarFakeConfig {
        customers: n,
        ..SonarFakeConfig::default()
    })
    .await
    .unwrap()
}

fn sonar_client(f: &SonarFake, page: u32, cfg: HttpConfig) -> SonarClient {
    SonarClient::new(&f.url(), Secret::new("sonar-test-token"), cfg)
        .unwrap()
        .with_page_size(page)
}

async fn splynx(n: u64) -> SplynxFake {
    SplynxFake::start(SplynxFakeConfig {
        customers: n,
        ..SplynxFakeConfig::default()
    })
    .await
    .unwrap()
}

fn splynx_client(f: &SplynxFake, mode: SplynxAuthMode, page: u32, cfg: HttpConfig) -> SplynxClient {
    SplynxClient::new(
        &f.url(),
        mode,
        Secret::new(f.api_key()),
        Secret::new(f.api_secret()),
        cfg,
    )
    .unwrap()
    .with_page_size(page)
}

// ---------------------------------------------------------------------------------------------
// Sonar

#[tokio::test]
async fn sonar_bearer_token_and_paging_edges() {
    for (n, page, requests) in [(0, 10, 1), (1, 10, 1), (10, 10, 1), (95, 10, 10)] {
        let f = sonar(n).await;
        let got = sonar_client(&f, page, fast()).accounts().await.unwrap();
        assert_eq!(got.len() as u64, n, "{n} accounts");
        assert_eq!(f.requests(), requests, "{n} accounts in pages of {page}");
        let ids: Vec<u64> = got.iter().map(|c| c.key.parse().unwrap()).collect();
        assert_eq!(ids, (1..=n).collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn sonar_accounts_carry_statuses_speeds_fields_and_macs() {
    let f = sonar(30).await;
    let c = sonar_client(&f, 100, fast());
    let all = c.accounts().await.unwrap();
    let a10 = all.iter().find(|a| a.key == "10").unwrap();
    assert_eq!(
        a10.status,
        CustomerStatus::Sonar {
            name: "Active".into(),
            activates_account: true,
            is_delinquent: true
        }
    );
    assert_eq!(a10.services.len(), 1, "only the DATA service");
    assert_eq!(a10.services[0].down_kbps, 250_000);
    assert_eq!(a10.fields["gam_port"], "10");
    assert_eq!(a10.macs, vec!["00:0e:d8:00:00:0a".to_string()]);
    let a25 = all.iter().find(|a| a.key == "25").unwrap();
    assert!(matches!(
        &a25.status,
        CustomerStatus::Sonar {
            activates_account: false,
            ..
        }
    ));
    // One account by id (after a webhook).
    assert_eq!(c.account(7).await.unwrap().unwrap().key, "7");
    assert!(c.account(9999).await.unwrap().is_none());
}

#[tokio::test]
async fn sonar_wrong_token_is_unauthorized() {
    let f = sonar(3).await;
    let c = SonarClient::new(&f.url(), Secret::new("wrong"), fast()).unwrap();
    let err = c.accounts().await.unwrap_err();
    assert!(matches!(err, BillingError::Unauthorized { .. }), "{err}");
    assert!(
        !err.to_string().contains("wrong"),
        "the token is never printed"
    );
}

#[tokio::test]
async fn sonar_rate_limit_backs_off_then_succeeds() {
    let f = sonar(50).await;
    f.set_rate_limit(3, Duration::from_millis(250));
    let got = sonar_client(&f, 10, fast()).accounts().await.unwrap();
    assert_eq!(got.len(), 50);
    assert!(f.requests() > 5, "some requests were refused and retried");
}

#[tokio::test]
async fn sonar_rate_limit_reported_with_its_real_body() {
    let f = sonar(50).await;
    f.set_rate_limit(1, Duration::from_secs(60));
    let err = sonar_client(&f, 10, fast()).accounts().await.unwrap_err();
    match err {
        BillingError::RateLimited { message, .. } => {
            assert_eq!(message, "Request limit of 1/min reached.")
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn sonar_5xx_is_retried() {
    let f = sonar(20).await;
    f.set_faults(Faults {
        fail_next: 2,
        fail_status: 503,
        ..Faults::default()
    });
    assert_eq!(
        sonar_client(&f, 10, fast()).accounts().await.unwrap().len(),
        20
    );
    // Every attempt fails: the 5xx is reported, and nothing is returned.
    f.set_faults(Faults {
        fail_next: 100,
        fail_status: 502,
        ..Faults::default()
    });
    let err = sonar_client(&f, 10, fast()).accounts().await.unwrap_err();
    assert!(
        matches!(err, BillingError::Api { status: 502, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn sonar_graphql_errors_are_reported() {
    let f = sonar(20).await;
    f.graphql_errors_next(1);
    let err = sonar_client(&f, 10, fast()).accounts().await.unwrap_err();
    match err {
        BillingError::GraphQl { messages, .. } => assert_eq!(messages, ["Internal server error"]),
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn sonar_timeout_is_an_error_and_nothing_is_returned() {
    let f = sonar(20).await;
    f.set_faults(Faults {
        delay: Duration::from_millis(400),
        ..Faults::default()
    });
    let cfg = HttpConfig {
        request_timeout: Duration::from_millis(100),
        ..fast()
    };
    let err = sonar_client(&f, 10, cfg).accounts().await.unwrap_err();
    assert!(
        matches!(err, BillingError::Timeout { attempts: 3, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn sonar_changes_while_paging_are_detected() {
    let f = Arc::new(sonar(30).await);
    let c = sonar_client(&f, 10, fast());
    // Delete an account between page 1 and page 2.
    f.set_faults(Faults {
        delay: Duration::from_millis(150),
        ..Faults::default()
    });
    let editor = {
        let f = f.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            f.edit(|c| c.retain(|a| a.id != 2));
        })
    };
    let err = c.accounts().await.unwrap_err();
    editor.await.unwrap();
    assert!(
        matches!(err, BillingError::ChangedDuringRead { .. }),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// Splynx

#[tokio::test]
async fn splynx_every_auth_mode_reads_customers() {
    for mode in [
        SplynxAuthMode::Basic,
        SplynxAuthMode::Signature,
        SplynxAuthMode::Token,
    ] {
        // One fake per mode: a nonce must grow per API key, and each client keeps its own.
        let f = splynx(30).await;
        let got = splynx_client(&f, mode, 7, fast())
            .customers()
            .await
            .unwrap();
        assert_eq!(got.len(), 30, "{mode:?}");
        // Blocked customers keep their active services.
        let c10 = got.iter().find(|c| c.key == "10").unwrap();
        assert_eq!(
            c10.status,
            CustomerStatus::Splynx {
                status: "blocked".into()
            }
        );
        assert!(c10.services[0].active);
        // Strings became numbers; additional attributes and the bare MAC came through.
        assert_eq!(c10.services[0].down_kbps, 250_000);
        assert_eq!(c10.services[0].fields["vlan"], "109");
        assert_eq!(c10.services[0].macs, ["000ED800000A"]);
    }
}

#[tokio::test]
async fn splynx_wrong_secret_and_basic_without_unsecure_access() {
    for mode in [
        SplynxAuthMode::Basic,
        SplynxAuthMode::Signature,
        SplynxAuthMode::Token,
    ] {
        let f = splynx(3).await;
        let c = SplynxClient::new(
            &f.url(),
            mode,
            Secret::new(f.api_key()),
            Secret::new("not-the-secret"),
            fast(),
        )
        .unwrap();
        let err = c.customers().await.unwrap_err();
        assert!(
            matches!(err, BillingError::Unauthorized { .. }),
            "{mode:?}: {err}"
        );
        assert!(!err.to_string().contains("not-the-secret"));
    }
    let f = splynx(3).await;
    f.set_unsecure_access(false);
    let err = splynx_client(&f, SplynxAuthMode::Basic, 10, fast())
        .customers()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("INVALID_AUTH_TYPE"), "{err}");
}

#[tokio::test]
async fn splynx_access_token_is_renewed_after_expiry() {
    let f = splynx(20).await;
    // Tokens that expire at once: the client renews with the refresh token, not a new login.
    f.set_access_ttl(Duration::from_secs(1));
    let c = splynx_client(&f, SplynxAuthMode::Token, 5, fast());
    assert_eq!(c.customers().await.unwrap().len(), 20);
    let (_, logins, renewals) = f.stats();
    assert_eq!(logins, 1);
    assert!(renewals >= 1, "renewals: {renewals}");
    c.logout().await;
}

/// Issue 11 (4): a logout the server refuses (501, or any status a retry cannot fix) is one
/// request and no wait, not a backoff that stalls the sync behind it.
#[tokio::test]
async fn splynx_failed_logout_is_one_try_without_backoff() {
    for status in [501, 500, 502] {
        let f = splynx(3).await;
        let slow_retries = HttpConfig {
            retry: RetryPolicy {
                attempts: 4,
                base_delay: Duration::from_secs(2),
                max_delay: Duration::from_secs(8),
                rate_limit_delay: Duration::from_secs(8),
            },
            ..fast()
        };
        let c = splynx_client(&f, SplynxAuthMode::Token, 5, slow_retries);
        assert_eq!(c.customers().await.unwrap().len(), 3);
        let (before, _, _) = f.stats();
        f.set_faults(Faults {
            fail_next: 100,
            fail_status: status,
            ..Faults::default()
        });
        c.logout().await;
        // One request: a failed logout is not retried (nor waited on).
        let (after, _, _) = f.stats();
        assert_eq!(after - before, 1, "{status}: one request");
    }
}

/// Issue 11 (4): a status no retry can fix is final at once, everywhere in the clients.
#[tokio::test]
async fn splynx_and_sonar_do_not_retry_final_statuses() {
    for status in [500, 501] {
        let f = splynx(3).await;
        f.set_faults(Faults {
            fail_next: 1,
            fail_status: status,
            ..Faults::default()
        });
        let err = splynx_client(&f, SplynxAuthMode::Basic, 5, fast())
            .customers()
            .await
            .unwrap_err();
        assert!(
            matches!(err, BillingError::Api { status: s, .. } if s == status),
            "{status}: {err}"
        );
        let s = sonar(3).await;
        s.set_faults(Faults {
            fail_next: 1,
            fail_status: status,
            ..Faults::default()
        });
        let err = sonar_client(&s, 10, fast()).accounts().await.unwrap_err();
        assert!(
            matches!(err, BillingError::Api { status: s, .. } if s == status),
            "{status}: {err}"
        );
    }
}

#[tokio::test]
async fn splynx_paging_edges() {
    for (n, page) in [(0, 10), (1, 10), (10, 10), (95, 10)] {
        let f = splynx(n).await;
        let c = splynx_client(&f, SplynxAuthMode::Basic, page, fast());
        let got = c.list("admin/customers/customer", &[]).await.unwrap();
        assert_eq!(got.len() as u64, n);
        let (requests, _, _) = f.stats();
        // One HEAD for the count, then the pages: one when everything fits.
        let pages = if n == 0 {
            1
        } else {
            n.div_ceil(u64::from(page))
        };
        assert_eq!(requests, 1 + pages, "{n} in pages of {page}");
    }
}

#[tokio::test]
async fn splynx_quirks() {
    let f = splynx(30).await;
    let c = splynx_client(&f, SplynxAuthMode::Signature, 100, fast());
    // PHP-style search.
    let blocked = c
        .list(
            "admin/customers/customer",
            &[main_attribute("status", "blocked")],
        )
        .await
        .unwrap();
    assert_eq!(blocked.len(), 3, "customers 10, 20 and 30");
    assert_eq!(blocked[0]["id"], "10", "ids arrive as strings");
    // The `--` sub-resource path.
    let svc = c.internet_service(5, 100_005).await.unwrap();
    assert_eq!(svc["customer_id"], "5");
    // Every customer's services need a search parameter: without one, a 500 in the envelope.
    let err = c
        .get("admin/customers/customer/0/internet-services", &[])
        .await
        .unwrap_err();
    match err {
        BillingError::Api { status, code, .. } => {
            assert_eq!((status, code.as_deref()), (500, Some("SERVER_ERROR")))
        }
        other => panic!("{other}"),
    }
    // The error envelope.
    let err = c.get("admin/no/such/thing", &[]).await.unwrap_err();
    assert!(
        matches!(&err, BillingError::Api { status: 404, code: Some(code), .. } if code == "NOT_FOUND"),
        "{err}"
    );
    // One customer (after a webhook).
    assert_eq!(c.customer(3).await.unwrap().unwrap().services.len(), 1);
    assert!(c.customer(999).await.unwrap().is_none());
}

#[tokio::test]
async fn splynx_429_and_5xx_back_off_then_succeed() {
    for status in [429, 502, 503, 504] {
        let f = splynx(12).await;
        f.set_faults(Faults {
            fail_next: 2,
            fail_status: status,
            ..Faults::default()
        });
        let got = splynx_client(&f, SplynxAuthMode::Basic, 5, fast())
            .customers()
            .await
            .unwrap();
        assert_eq!(got.len(), 12, "after {status}");
    }
}

#[tokio::test]
async fn splynx_timeout_and_connection_errors_return_nothing() {
    let f = splynx(12).await;
    f.set_faults(Faults {
        delay: Duration::from_millis(400),
        ..Faults::default()
    });
    let cfg = HttpConfig {
        request_timeout: Duration::from_millis(100),
        ..fast()
    };
    let err = splynx_client(&f, SplynxAuthMode::Basic, 5, cfg)
        .customers()
        .await
        .unwrap_err();
    assert!(matches!(err, BillingError::Timeout { .. }), "{err}");
    let url = f.url();
    drop(f);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let c = SplynxClient::new(
        &url,
        SplynxAuthMode::Basic,
        Secret::new("k"),
        Secret::new("s"),
        fast(),
    )
    .unwrap();
    let err = c.customers().await.unwrap_err();
    assert!(matches!(err, BillingError::Connect { .. }), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Mapping what was read

const MAPPING: &str = "
sonar: { url: https://isp.sonar.software, token: env:SONAR_TOKEN }
splynx:
  url: https://splynx.example.net
  auth: { key: env:SPLYNX_KEY, secret: env:SPLYNX_SECRET }
";

fn lab_devices(n: usize) -> Vec<Device> {
    (1..=n)
        .map(|k| {
            serde_saphyr::from_str(&format!(
                "name: lab-gam-{k}\nmodel: GAM-12-C\naddress: 10.0.0.{k}\n"
            ))
            .unwrap()
        })
        .collect()
}

fn lab_plans() -> Plans {
    serde_saphyr::from_str(
        "1G: {down_mbps: 1000, up_mbps: 1000}\n500M: {down_mbps: 545, up_mbps: 545}\n250M: {down_mbps: 270, up_mbps: 270}\n100M: {down_mbps: 108, up_mbps: 108}\n",
    )
    .unwrap()
}

#[tokio::test]
async fn splynx_plan_change_keeps_the_subscriber_and_bad_data_is_skipped() {
    let f = splynx(24).await;
    let c = splynx_client(&f, SplynxAuthMode::Token, 10, fast());
    let mapping: BillingMapping = serde_saphyr::from_str(MAPPING).unwrap();
    let devices = lab_devices(2);
    let plans = lab_plans();
    let ctx = MapContext {
        devices: &devices,
        plans: &plans,
        matching: &mapping.plans,
        others: &[],
    };
    let rules = SystemRules::Splynx(mapping.splynx.as_ref().unwrap());
    let before = map_customers(&c.customers().await.unwrap(), rules, &ctx);
    // Customers 10 and 20 are blocked (suspended); none of 1..24 is disabled.
    assert_eq!(before.subscribers.len(), 24, "{:?}", before.skipped);
    let s4 = before
        .subscribers
        .iter()
        .find(|s| s.id.as_str() == "splynx-4")
        .unwrap();
    assert_eq!(s4.plan.as_str(), "1G");

    let new_sid = f.change_plan(4, 100_000, 100_000).unwrap();
    f.edit(|cs| {
        for c in cs.iter_mut() {
            match c.id {
                1 => c.mac = None,
                2 => {
                    c.fields.insert("vlan".into(), "4095".into());
                }
                3 => {
                    c.fields.insert("gam".into(), "elsewhere".into());
                }
                _ => {}
            }
        }
    });
    let read = c.customers().await.unwrap();
    let c4 = read.iter().find(|c| c.key == "4").unwrap();
    assert_eq!(c4.services.len(), 1, "the old service is disabled");
    assert_eq!(c4.services[0].id, new_sid.to_string());
    let after = map_customers(&read, rules, &ctx);
    let s4 = after
        .subscribers
        .iter()
        .find(|s| s.id.as_str() == "splynx-4")
        .unwrap();
    assert_eq!(s4.plan.as_str(), "100M", "same subscriber, new plan");
    let reasons: Vec<String> = after.skipped.iter().map(ToString::to_string).collect();
    assert_eq!(
        reasons,
        [
            "customer 1: no endpoint MAC (device lab-gam-1 is endpoint-aware)",
            "customer 2: VLAN \"4095\" is out of range: VLAN 4095 is reserved by IEEE 802.1Q",
            "customer 3: device \"elsewhere\" is not in the inventory",
        ]
    );
    assert_eq!(after.subscribers.len(), 21);
}

#[tokio::test]
async fn sonar_accounts_map_to_subscribers() {
    let f = sonar(30).await;
    let read = sonar_client(&f, 10, fast()).accounts().await.unwrap();
    let mapping: BillingMapping = serde_saphyr::from_str(MAPPING).unwrap();
    let devices = lab_devices(3);
    let plans = lab_plans();
    let ctx = MapContext {
        devices: &devices,
        plans: &plans,
        matching: &mapping.plans,
        others: &[],
    };
    let out = map_customers(
        &read,
        SystemRules::Sonar(mapping.sonar.as_ref().unwrap()),
        &ctx,
    );
    assert_eq!(out.absent, ["25"], "Inactive");
    assert!(out.skipped.is_empty(), "{:?}", out.skipped);
    assert_eq!(out.subscribers.len(), 29);
    let s10 = out
        .subscribers
        .iter()
        .find(|s| s.id.as_str() == "sonar-10")
        .unwrap();
    assert_eq!(s10.status.to_string_lossy(), "suspended");
}

trait StatusText {
    fn to_string_lossy(&self) -> String;
}

impl StatusText for gamops::model::SubscriberStatus {
    fn to_string_lossy(&self) -> String {
        serde_json::to_value(self)
            .unwrap()
            .as_str()
            .unwrap()
            .to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// Webhooks: a receiver built on the verification functions, fed by the fakes' senders.

struct Receiver {
    url: String,
    _shutdown: tokio_util::sync::CancellationToken,
    events: Arc<Mutex<Vec<String>>>,
}

async fn receiver(splynx_secret: &'static str, sonar_token: &'static str) -> Receiver {
    let guard = Arc::new(Mutex::new(ReplayGuard::new(100)));
    let events = Arc::new(Mutex::new(Vec::new()));
    let (g1, e1) = (guard.clone(), events.clone());
    let (g2, e2) = (guard, events.clone());
    let router = axum::Router::new()
        .route(
            "/hooks/splynx",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (guard, events) = (g1.clone(), e1.clone());
                async move {
                    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
                    match verify_splynx(
                        splynx_secret.as_bytes(),
                        header("x-splynx-signature"),
                        header("content-type"),
                        &body,
                    ) {
                        Ok(SplynxHook::Ping) => (StatusCode::OK, "ok".to_string()),
                        Ok(SplynxHook::Event(e)) => match guard.lock().unwrap().check(&e.id) {
                            Ok(()) => {
                                events.lock().unwrap().push(format!(
                                    "splynx {} {}",
                                    e.action,
                                    e.customer_id.unwrap_or(0)
                                ));
                                (StatusCode::OK, "ok".into())
                            }
                            Err(err) => (StatusCode::OK, err.to_string()),
                        },
                        Err(err @ WebhookError::BadBody(_)) => {
                            (StatusCode::BAD_REQUEST, err.to_string())
                        }
                        Err(err) => (StatusCode::UNAUTHORIZED, err.to_string()),
                    }
                }
            }),
        )
        .route(
            "/hooks/sonar/{token}",
            axum::routing::head(
                move |axum::extract::Path(token): axum::extract::Path<String>| async move {
                    if token == sonar_token {
                        StatusCode::OK
                    } else {
                        StatusCode::UNAUTHORIZED
                    }
                },
            )
            .post(
                move |axum::extract::Path(token): axum::extract::Path<String>, body: Bytes| {
                    let (guard, events) = (g2.clone(), e2.clone());
                    async move {
                        match verify_sonar(sonar_token, &token, &body) {
                            Ok(e) => {
                                if guard.lock().unwrap().check(&e.id).is_ok() {
                                    events.lock().unwrap().push(format!(
                                        "sonar {} {}",
                                        e.event,
                                        e.object_id.unwrap_or(0)
                                    ));
                                }
                                StatusCode::OK
                            }
                            Err(_) => StatusCode::UNAUTHORIZED,
                        }
                    }
                },
            ),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let s = shutdown.clone();
    tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(s.cancelled_owned())
            .await
            .unwrap();
    });
    Receiver {
        url: format!("http://{addr}"),
        _shutdown: shutdown,
        events,
    }
}

#[tokio::test]
async fn splynx_webhook_signatures() {
    let r = receiver("hook-secret", "tok").await;
    let url = format!("{}/hooks/splynx", r.url);
    let event = splynx_fake::customer_event(10, "edit", "blocked");
    use splynx_fake::WebhookEncoding::{Form, Json};
    // Valid, in both encodings.
    assert_eq!(
        splynx_fake::send_webhook(&url, Some("hook-secret"), &event, Json)
            .await
            .unwrap()
            .0,
        200
    );
    let other = splynx_fake::customer_event(11, "edit", "active");
    assert_eq!(
        splynx_fake::send_webhook(&url, Some("hook-secret"), &other, Form)
            .await
            .unwrap()
            .0,
        200
    );
    // Invalid and missing signatures.
    assert_eq!(
        splynx_fake::send_webhook(&url, Some("wrong"), &event, Json)
            .await
            .unwrap()
            .0,
        401
    );
    assert_eq!(
        splynx_fake::send_webhook(&url, None, &event, Json)
            .await
            .unwrap()
            .0,
        401
    );
    // A tampered body with the original signature.
    let (_, body) = splynx_fake::send_webhook(&url, Some("hook-secret"), &event, Json)
        .await
        .unwrap();
    let sig = gamops::billing::webhook::splynx_signature(b"hook-secret", &body);
    let tampered = String::from_utf8(body)
        .unwrap()
        .replace("blocked", "active");
    let status = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .header("X-Splynx-Signature", sig)
        .body(tampered)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
    // Ping.
    assert_eq!(
        splynx_fake::send_ping(&url, Some("hook-secret"))
            .await
            .unwrap()
            .0,
        200
    );
    // The valid JSON event was delivered three times (once replayed above, once for the
    // tampered test's original): only the first counts.
    assert_eq!(
        *r.events.lock().unwrap(),
        ["splynx edit 10", "splynx edit 11"]
    );
}

#[tokio::test]
async fn sonar_webhook_token_and_replay() {
    let r = receiver("hook-secret", "tok").await;
    let good = format!("{}/hooks/sonar/tok", r.url);
    let bad = format!("{}/hooks/sonar/nope", r.url);
    assert_eq!(
        sonar_fake::send_webhook(&good, "account.status", 42)
            .await
            .unwrap(),
        200
    );
    assert_eq!(
        sonar_fake::send_webhook(&good, "account.status", 42)
            .await
            .unwrap(),
        200
    );
    assert_eq!(
        sonar_fake::send_webhook(&bad, "account.status", 43)
            .await
            .unwrap(),
        401
    );
    assert_eq!(*r.events.lock().unwrap(), ["sonar account.status 42"]);
}
