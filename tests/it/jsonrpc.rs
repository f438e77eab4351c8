//! The JSON-RPC driver against the lab's JSON-RPC face over real HTTP: every method gamops
//! uses, every error path (a documented device code, HTTP 401, a body that is not JSON, a
//! timeout, a method an older firmware lacks, a save in progress), and `gamops apply` through it.

use std::time::Duration;

use gamops::device::Observation;
use gamops::device::jsonrpc::calls::{self, Call};
use gamops::device::jsonrpc::{JsonRpcSession, JsonRpcTarget, RpcError};
use gamops::device::snmp::{Security, SnmpTarget, observe};
use gamops::lab::control::{FailCommand, FaultSettings};
use gamops::model::Driver;
use gamops::secret::Secret;
use serde_json::json;

use crate::support::fleet::{FleetLab, assert_saved, expect_exit};

fn target(addr: std::net::SocketAddr, password: &str) -> JsonRpcTarget {
    JsonRpcTarget {
        addr,
        tls_pin: None,
        username: "admin".into(),
        password: Secret::new(password),
        connect_timeout: Duration::from_secs(5),
        call_timeout: Duration::from_secs(5),
    }
}

fn apply_json(out: &std::process::Output) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            crate::support::stdout(out),
            crate::support::stderr(out)
        )
    });
    v.as_array().unwrap()[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_works_over_http_and_snmp_sees_the_change() {
    let f = FleetLab::start_with(1, 1, Duration::from_secs(1), Driver::Jsonrpc).await;
    let dev = f.device("gam-0000");
    let mut s = JsonRpcSession::connect(&target(dev.jsonrpc_addr(), ""))
        .await
        .unwrap();
    for m in [
        "ghnAgent.config.global.get",
        "ghnAgent.config.bwProfileByName.add",
        "ghnAgent.config.userByName.del",
        "icfg.control.copy.set",
    ] {
        assert!(s.methods().contains(m), "{m} not in {:?}", s.methods());
    }
    let g = s
        .call(&Call::new(calls::GLOBAL_GET, json!([])))
        .await
        .unwrap();
    assert_eq!(g["SubscriberModel"], "endpointAware");
    s.call(&Call::new(
        calls::GLOBAL_SET,
        json!([{"EndpointAutoFwUpgrade": false}]),
    ))
    .await
    .unwrap();
    s.call(&Call::new(
        calls::PORT_SET,
        json!(["G.hn 1/3", {"Name": "riser 3"}]),
    ))
    .await
    .unwrap();
    let p = s
        .call(&Call::new(calls::PORT_GET, json!(["G.hn 1/3"])))
        .await
        .unwrap();
    assert_eq!(p["Name"], "riser 3");
    for (method, params) in [
        (
            "ghnAgent.config.bwProfileByName.add",
            json!(["p50", {"DsBw": 54, "UsBw": 54, "Description": ""}]),
        ),
        (
            "ghnAgent.config.bwProfileByName.set",
            json!(["p50", {"DsBw": 60}]),
        ),
        (
            "ghnAgent.config.endpointByName.add",
            json!(["cpe-x", {"MacAddress": "00:0e:d8:aa:bb:cc", "PortIfIndex": "G.hn 1/2", "Description": ""}]),
        ),
        (
            "ghnAgent.config.endpointByName.set",
            json!(["cpe-x", {"Description": "flat 2"}]),
        ),
        (
            "ghnAgent.config.userByName.add",
            json!(["Subscriber 2", {"EndpointName": "cpe-x", "BwProfileName": "p50", "DoubleTags": true, "OuterTagVlanId": 2800, "VlanId": 1111, "VlanIsTagged": true, "RemappedVlanId": 201, "AllowedTaggedVlans": [301, 302, 310]}]),
        ),
        (
            "ghnAgent.config.userByName.set",
            json!(["Subscriber 2", {"VlanId": 1112}]),
        ),
    ] {
        s.call(&Call::new(method, params))
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"));
    }
    let u = s
        .call(&Call::new(
            "ghnAgent.config.userByName.get",
            json!(["Subscriber 2"]),
        ))
        .await
        .unwrap();
    assert_eq!(u["VlanId"], 1112);
    assert_eq!(u["EndpointName"], "cpe-x");
    s.save(1, Duration::ZERO).await.unwrap();
    assert_saved(&f.state("gam-0000"));

    // SNMP reads what JSON-RPC changed.
    let mut t = SnmpTarget::new(
        dev.snmp_addr(),
        Security::V2c {
            community: Secret::new("public"),
        },
    );
    t.timeout = Duration::from_secs(3);
    let Observation::Live(live) = observe(&t).await else {
        panic!("the device could not be read");
    };
    let sub = live.subscriber_by_name("Subscriber 2").unwrap();
    assert_eq!((sub.vlan, sub.outer_vlan), (1112, Some(2800)));
    assert_eq!(live.profile_by_name("p50").unwrap().down_mbps, 60);
    assert!(!live.global.endpoint_auto_fw_upgrade);

    for (method, key) in [
        ("ghnAgent.config.userByName.del", "Subscriber 2"),
        ("ghnAgent.config.endpointByName.del", "cpe-x"),
        ("ghnAgent.config.bwProfileByName.del", "p50"),
    ] {
        s.call(&Call::new(method, json!([key]))).await.unwrap();
    }
    let state = f.state("gam-0000");
    assert!(state.running.subscribers.is_empty());
    assert!(state.running.endpoints.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_failure_is_one_clear_error() {
    let f = FleetLab::start_with(1, 1, Duration::from_secs(1), Driver::Jsonrpc).await;
    let dev = f.device("gam-0000");

    // A wrong password, and refused logins: HTTP 401.
    let e = JsonRpcSession::connect(&target(dev.jsonrpc_addr(), "wrong"))
        .await
        .err()
        .unwrap();
    assert!(matches!(e, RpcError::Unauthorized { .. }), "{e}");
    assert!(e.hint().unwrap().contains("jsonrpc.username"), "{e:?}");
    f.faults(&FaultSettings {
        ssh_refuse_logins: Some(true),
        ..FaultSettings::default()
    });
    let e = JsonRpcSession::connect(&target(dev.jsonrpc_addr(), ""))
        .await
        .err()
        .unwrap();
    assert!(matches!(e, RpcError::Unauthorized { .. }), "{e}");
    f.faults(&FaultSettings {
        ssh_refuse_logins: Some(false),
        ..FaultSettings::default()
    });

    // A documented device code: its meaning and hint, with the device's text and code.
    let mut s = JsonRpcSession::connect(&target(dev.jsonrpc_addr(), ""))
        .await
        .unwrap();
    let add = Call::new(
        "ghnAgent.config.userByName.add",
        json!(["dup", {"VlanId": 100}]),
    );
    s.call(&add).await.unwrap();
    let e = s.call(&add).await.unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("another subscriber already has this name"),
        "{text}"
    );
    assert!(text.contains("Non-unique G.hn subscriber name"), "{text}");
    assert!(text.contains("-9437168"), "{text}");
    // Each documented rule the lab enforces answers its code.
    for (params, code) in [
        (json!(["p", {"DsBw": 5, "UsBw": 50}]), -9_437_161),
        (json!(["q", {"DsBw": 50, "UsBw": 50}]), 0),
    ] {
        let r = s
            .call(&Call::new("ghnAgent.config.bwProfileByName.add", params))
            .await;
        match (r, code) {
            (Ok(_), 0) => {}
            (Err(RpcError::Device { vtss: Some(v), .. }), c) => assert_eq!(v, c),
            (other, c) => panic!("{other:?} for code {c}"),
        }
    }
    let e = s
        .call(&Call::new(
            "ghnAgent.config.userByName.set",
            json!(["dup", {"AllowedTaggedVlans": (300..316).collect::<Vec<u16>>()}]),
        ))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("too many allowed tagged VLANs"),
        "{e}"
    );
    let e = s
        .call(&Call::new(
            "ghnAgent.config.userByName.set",
            json!(["dup", {"DoubleTags": true, "OuterTagVlanId": 10, "NNIIfIndex": "G.hn 1/1"}]),
        ))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not an uplink"), "{e}");
    // The transient "busy" error, as the fault injector arms it.
    f.faults(&FaultSettings {
        fail_command: Some(FailCommand {
            pattern: "userByName.del".into(),
            output: None,
        }),
        ..FaultSettings::default()
    });
    let e = s
        .call(&Call::new("ghnAgent.config.userByName.del", json!(["dup"])))
        .await
        .unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert!(e.hint().unwrap().contains("transient"));

    // A save while another runs is tried again, then fails.
    f.faults(&FaultSettings {
        save_in_progress: Some(true),
        ..FaultSettings::default()
    });
    let e = s.save(3, Duration::from_millis(10)).await.unwrap_err();
    assert!(e.is_save_busy(), "{e}");

    // A timeout.
    f.faults(&FaultSettings {
        ssh_latency_ms: Some(1500),
        ..FaultSettings::default()
    });
    let mut slow = target(dev.jsonrpc_addr(), "");
    slow.call_timeout = Duration::from_millis(300);
    let e = JsonRpcSession::connect(&slow).await.err().unwrap();
    assert!(matches!(e, RpcError::Timeout { .. }), "{e}");
    assert!(e.is_session_lost());

    // A web server that answers HTML, and a port where nothing listens.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/json_rpc",
        axum::routing::post(|| async { "<html><body>Login</body></html>" }),
    );
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let e = JsonRpcSession::connect(&target(addr, ""))
        .await
        .err()
        .unwrap();
    assert!(matches!(e, RpcError::NotJson { .. }), "{e}");
    assert!(e.to_string().contains("<html>"), "{e}");
    server.abort();
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nobody = free.local_addr().unwrap();
    drop(free);
    let e = JsonRpcSession::connect(&target(nobody, ""))
        .await
        .err()
        .unwrap();
    assert!(matches!(e, RpcError::Connect { .. }), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_firmware_without_a_needed_method_fails_before_anything_is_sent() {
    let f = FleetLab::start_with(1, 3, Duration::from_secs(1), Driver::Jsonrpc).await;
    let name = "gam-0000";
    let before = f.state(name);
    f.faults(&FaultSettings {
        jsonrpc_omit_methods: Some(vec!["ghnAgent.config.user.add".into()]),
        ..FaultSettings::default()
    });
    let out = f
        .gamops(&["apply", "--auto-approve", "--format", "json"])
        .await;
    expect_exit(&out, 3);
    let r = apply_json(&out);
    assert_eq!(r["status"], "failed", "{r}");
    let message = r["message"].as_str().unwrap();
    assert!(message.contains("ghnAgent.config.user.add"), "{message}");
    assert!(message.contains("firmware"), "{message}");
    assert!(message.contains("nothing was sent"), "{message}");
    assert_eq!(r["sent"], json!([]), "{r}");
    assert_eq!(f.state(name).running, before.running);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_call_rolls_back_and_a_busy_save_is_not_saved() {
    let f = FleetLab::start_with(1, 4, Duration::from_secs(1), Driver::Jsonrpc).await;
    let name = "gam-0000";
    let before = f.state(name);
    f.faults(&FaultSettings {
        fail_command: Some(FailCommand {
            pattern: "ghnAgent.config.user.add".into(),
            output: Some("% Too many allowed tagged VLAN".into()),
        }),
        ..FaultSettings::default()
    });
    let out = f
        .gamops(&["apply", "--auto-approve", "--format", "json"])
        .await;
    let r = apply_json(&out);
    assert_eq!(r["status"], "rolled-back", "{r}");
    let message = r["message"].as_str().unwrap();
    assert!(
        message.contains("too many allowed tagged VLANs"),
        "{message}"
    );
    assert!(message.contains("-9437155"), "{message}");
    let after = f.state(name);
    assert_eq!(after.running, before.running, "not rolled back");
    assert!(!after.is_dirty());
    // The journal text of each call is its method and compact params.
    let sent = r["sent"].as_array().unwrap();
    assert!(
        sent.iter().any(|l| l
            .as_str()
            .unwrap()
            .starts_with("ghnAgent.config.bwProfile.add [")),
        "{sent:?}"
    );

    // Applied and verified, but every save finds another running: not saved, said so.
    f.faults(&FaultSettings {
        save_in_progress: Some(true),
        ..FaultSettings::default()
    });
    let out = f
        .gamops(&["apply", "--auto-approve", "--format", "json"])
        .await;
    let r = apply_json(&out);
    assert_eq!(r["status"], "failed", "{r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("applied and verified, but not saved"),
        "{r}"
    );
    assert!(f.state(name).is_dirty());
}

mod same_end_state {
    //! Random plans applied through the CLI to one lab GAM and through JSON-RPC to its twin
    //! end in the same device state and the same SNMP tables.

    use std::collections::BTreeSet;
    use std::time::Duration;

    use gamops::apply::{ApplyStatus, DeviceJob, DriverTarget, NoJournal, apply_device};
    use gamops::device::jsonrpc::JsonRpcTarget;
    use gamops::device::snmp::{Security, SnmpTarget, observe};
    use gamops::device::ssh::{CliAuth, CliTarget, HostKeyPolicy};
    use gamops::device::{LiveDevice, Observation};
    use gamops::lab::device::DeviceState;
    use gamops::lab::runtime::{DeviceConfig, Lab, LabDevice, LabOptions};
    use gamops::lab::ssh::HostKey;
    use gamops::model::{GamModel, Mac, SubscriberModel};
    use gamops::plan::diff::{DiffOptions, diff};
    use gamops::plan::target::{Target, TargetEndpoint, TargetProfile, TargetSubscriber};
    use gamops::plan::{Change, fingerprint};
    use gamops::secret::Secret;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    use tokio_util::sync::CancellationToken;

    const UPLINK_BASE: u32 = 1_000_012;

    fn target_strategy() -> impl Strategy<Value = Target> {
        (
            proptest::collection::btree_map(
                0u8..8,
                (
                    0u16..10,
                    any::<bool>(),
                    proptest::option::of(300u16..310),
                    proptest::collection::btree_set(200u16..210, 0..3),
                    proptest::option::of(0u8..3),
                    proptest::option::of((100u16..103, proptest::option::of(1u32..3))),
                    1u8..13,
                    "[a-z ]{0,6}",
                ),
                0..7,
            ),
            proptest::collection::vec((10u16..100, 10u16..100, "[a-z]{0,3}"), 3),
        )
            .prop_map(|(subs, rates)| {
                let mut t = Target {
                    subscriber_model: SubscriberModel::EndpointAware,
                    ..Target::default()
                };
                let mut used = BTreeSet::new();
                for (i, (k, tagged, remapped, allowed, profile, qinq, port, desc)) in subs {
                    let name = format!("s{i}");
                    let mac = Mac([0, 0x0e, 0xd8, 0, 1, i]);
                    t.endpoints.push(TargetEndpoint {
                        mac,
                        name: format!("ep{i}"),
                        description: String::new(),
                        port,
                        subscriber: name.clone(),
                    });
                    let profile = profile.map(|p| format!("p{p}"));
                    if let Some(p) = &profile {
                        used.insert(p.clone());
                    }
                    t.subscribers.push(TargetSubscriber {
                        name: name.clone(),
                        description: desc,
                        endpoint: Some(mac),
                        port: None,
                        vlan: 100 + u16::from(i) * 10 + k,
                        tagged,
                        remapped_vlan: remapped,
                        allowed_vlans: allowed.into_iter().collect(),
                        profile,
                        outer_vlan: qinq.map(|(o, _)| o),
                        nni_if_index: qinq.and_then(|(_, n)| n).map(|n| UPLINK_BASE + n),
                    });
                    t.owned.insert(name);
                }
                for (i, (down, up, desc)) in rates.into_iter().enumerate() {
                    let name = format!("p{i}");
                    if used.contains(&name) {
                        t.profiles.push(TargetProfile {
                            name,
                            description: desc,
                            down_mbps: down,
                            up_mbps: up,
                        });
                    }
                }
                t.endpoints.sort_by_key(|e| e.mac);
                t
            })
    }

    fn snmp(d: &LabDevice) -> SnmpTarget {
        let mut t = SnmpTarget::new(
            d.snmp_addr(),
            Security::V2c {
                community: Secret::new("public"),
            },
        );
        t.timeout = Duration::from_secs(3);
        t
    }

    async fn read(d: &LabDevice) -> LiveDevice {
        match observe(&snmp(d)).await {
            Observation::Live(l) => *l,
            Observation::Unknown { reason } => panic!("{}: {reason}", d.name()),
        }
    }

    fn job(
        d: &LabDevice,
        driver: DriverTarget,
        changes: Vec<Change>,
        live: &LiveDevice,
    ) -> DeviceJob {
        DeviceJob {
            device: d.name().to_string(),
            snmp: snmp(d),
            driver,
            uplink_base: UPLINK_BASE,
            changes,
            fingerprint: Some(fingerprint(live)),
            save_attempts: 3,
            save_pause: Duration::from_millis(20),
        }
    }

    /// What gamops configures, without the parts that name the device (system group).
    fn configured(l: &LiveDevice) -> LiveDevice {
        LiveDevice {
            system: Default::default(),
            detected: Vec::new(),
            ..l.clone()
        }
    }

    #[test]
    fn random_plans_end_the_same_through_either_driver() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let lab = rt.block_on(async {
            let configs = ["cli-gam", "rpc-gam"]
                .into_iter()
                .map(|n| {
                    DeviceConfig::factory(
                        n,
                        DeviceState::factory(GamModel::Gam12C, "GAM"),
                        HostKey::generate().unwrap(),
                    )
                })
                .collect();
            Lab::start(configs, LabOptions::default()).await.unwrap()
        });
        let cli_dev = lab.device("cli-gam").unwrap().clone();
        let rpc_dev = lab.device("rpc-gam").unwrap().clone();
        let applied = std::sync::atomic::AtomicUsize::new(0);
        let mut runner = TestRunner::new(Config {
            cases: 12,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&target_strategy(), |target| {
                rt.block_on(async {
                    let (a, b) = (read(&cli_dev).await, read(&rpc_dev).await);
                    prop_assert_eq!(configured(&a), configured(&b));
                    let changes = diff(&target, &a, DiffOptions { prune: true })
                        .unwrap()
                        .changes;
                    let cli = DriverTarget::Cli(CliTarget {
                        addr: cli_dev.ssh_addr(),
                        username: "admin".into(),
                        auth: CliAuth::Password(Secret::new("")),
                        host_key: HostKeyPolicy::Pinned(cli_dev.host_key().fingerprint_sha256()),
                        connect_timeout: Duration::from_secs(10),
                        command_timeout: Duration::from_secs(10),
                    });
                    let rpc = DriverTarget::JsonRpc(JsonRpcTarget {
                        addr: rpc_dev.jsonrpc_addr(),
                        tls_pin: None,
                        username: "admin".into(),
                        password: Secret::new(""),
                        connect_timeout: Duration::from_secs(10),
                        call_timeout: Duration::from_secs(10),
                    });
                    let cancel = CancellationToken::new();
                    let ra = apply_device(
                        &job(&cli_dev, cli, changes.clone(), &a),
                        &NoJournal,
                        &cancel,
                    )
                    .await;
                    let rb = apply_device(
                        &job(&rpc_dev, rpc, changes.clone(), &b),
                        &NoJournal,
                        &cancel,
                    )
                    .await;
                    prop_assert_eq!(
                        &ra.status,
                        &rb.status,
                        "cli: {}\njsonrpc: {}",
                        ra.message,
                        rb.message
                    );
                    if !changes.is_empty() {
                        prop_assert_eq!(&rb.status, &ApplyStatus::Applied, "{}", rb.message);
                        applied.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    let (sa, sb) = (
                        cli_dev.state().lock().unwrap().running.clone(),
                        rpc_dev.state().lock().unwrap().running.clone(),
                    );
                    prop_assert_eq!(sa, sb);
                    let (a, b) = (read(&cli_dev).await, read(&rpc_dev).await);
                    prop_assert_eq!(configured(&a), configured(&b));
                    Ok(())
                })
            })
            .unwrap();
        assert!(
            applied.into_inner() > 0,
            "no random plan changed anything: the property was never exercised"
        );
        rt.block_on(lab.shutdown());
    }
}

/// Serves HTTPS with the fixture's self-signed certificate, answering every request with one
/// introspection reply; returns its address.
async fn tls_server() -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

    let cert = CertificateDer::from(include_bytes!("../fixtures/gam-tls-cert.der").to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        include_bytes!("../fixtures/gam-tls-key.der").to_vec(),
    ));
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        // Bounded: a handful of connections, then the server stops.
        for _ in 0..8 {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                // The request's headers, then its body (Content-Length).
                loop {
                    let Ok(n) = tls.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if body.len() >= len {
                            break;
                        }
                    }
                }
                let body = r#"{"id":1,"error":null,"result":{"methods":[{"method-name":"ghnAgent.config.global.get"}]}}"#;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_trusts_only_the_pinned_certificate() {
    use gamops::device::jsonrpc::tls;
    let addr = tls_server().await;
    let cert = include_bytes!("../fixtures/gam-tls-cert.der");
    let pin = tls::fingerprint(cert);
    // The pin as a person writes it (from `openssl x509 -fingerprint -sha256`) parses to it.
    let hex: Vec<String> = pin.iter().map(|b| format!("{b:02X}")).collect();
    assert_eq!(
        gamops::model::parse_certificate_fingerprint(&hex.join(":")),
        Some(pin)
    );
    let mut t = target(addr, "");
    t.tls_pin = Some(pin);
    assert!(t.url().starts_with("https://"));
    let s = JsonRpcSession::connect(&t).await.unwrap();
    assert!(s.methods().contains("ghnAgent.config.global.get"));

    let mut wrong = pin;
    wrong[0] ^= 0xff;
    t.tls_pin = Some(wrong);
    let e = JsonRpcSession::connect(&t).await.err().unwrap();
    match &e {
        RpcError::CertificateChanged { got, pinned } => {
            assert_eq!(got, &tls::show(&pin));
            assert_eq!(pinned, &tls::show(&wrong));
        }
        other => panic!("{other}"),
    }
    assert!(e.hint().unwrap().contains("jsonrpc.certificate"));
}
