//! The Sonar v2 GraphQL client: bearer token, the accounts query (statuses, data services with
//! speeds in kbps, addresses, inventory MACs and custom fields), pagination to the last page,
//! the 400/minute rate limit (its body is `{"error": "Request limit of 400/min reached."}`, not
//! GraphQL), and GraphQL `errors` reported.

use std::collections::{BTreeMap, HashSet};

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{Http, HttpConfig, RawResponse, Verdict};
use super::lenient;
use super::{BillingCustomer, BillingError, BillingService, CustomerStatus, Secret};
use crate::model::ManagedBy;

const SYSTEM: &str = "sonar";

/// Sonar's documented page size in production integrations; the maximum is undocumented.
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// The selection of one account: everything the mapping reads.
const ACCOUNT_FIELDS: &str = "
      id name account_status_id is_delinquent
      account_status { id name activates_account }
      custom_field_data { entities { custom_field_id value custom_field { name } } }
      account_services { entities { id service { id name type enabled
          data_service_detail { download_speed_kilobits_per_second upload_speed_kilobits_per_second } } } }
      addresses { entities { id type line1 line2
          custom_field_data { entities { custom_field_id value custom_field { name } } }
          inventory_items { entities { id
            inventory_model_field_data { entities { value inventory_model_field { name primary } } } } } } }
      uninventoried_mac_addresses { entities { mac_address account_service_id } }";

/// A Sonar v2 API client.
#[derive(Debug)]
pub struct SonarClient {
    http: Http,
    endpoint: String,
    token: Secret,
    page_size: u32,
}

impl SonarClient {
    /// `url` is the instance (`https://isp.sonar.software`) or its `/api/graphql` URL.
    pub fn new(url: &str, token: Secret, config: HttpConfig) -> Result<SonarClient, BillingError> {
        Ok(SonarClient {
            http: Http::new(SYSTEM, config)?,
            endpoint: graphql_url(url),
            token,
            page_size: DEFAULT_PAGE_SIZE,
        })
    }

    /// Records per page (1..=1000).
    pub fn with_page_size(mut self, n: u32) -> SonarClient {
        self.page_size = n.clamp(1, 1000);
        self
    }

    /// Runs one GraphQL request and returns its `data`.
    pub async fn query(&self, query: &str, variables: Value) -> Result<Value, BillingError> {
        let body = json!({ "query": query, "variables": variables });
        let raw = self
            .http
            .send(
                "a GraphQL query",
                |c| {
                    Ok(c.post(&self.endpoint)
                        .bearer_auth(self.token.expose())
                        .header(reqwest::header::ACCEPT, "application/json")
                        .json(&body))
                },
                classify,
            )
            .await?;
        graphql_data(&raw)
    }

    /// Every account, page by page to the last page. Any failure returns an error and nothing.
    pub async fn accounts(&self) -> Result<Vec<BillingCustomer>, BillingError> {
        let query = format!(
            "query Accounts($paginator: Paginator, $sorter: [Sorter]) {{
  accounts(paginator: $paginator, sorter: $sorter) {{
    page_info {{ page records_per_page total_pages total_count }}
    entities {{{ACCOUNT_FIELDS}
    }}
  }}
}}"
        );
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut first_total: Option<u64> = None;
        let mut page = 1u64;
        loop {
            let vars = json!({
                "paginator": { "page": page, "records_per_page": self.page_size },
                "sorter": [{ "attribute": "id", "direction": "ASC" }],
            });
            let data = self.query(&query, vars).await?;
            let conn: Connection = decode(&data, "accounts")?;
            let total = *first_total.get_or_insert(conn.page_info.total_count);
            if conn.page_info.total_count != total {
                return Err(BillingError::ChangedDuringRead {
                    system: SYSTEM,
                    what: "accounts".into(),
                    message: format!(
                        "total_count went from {total} to {}",
                        conn.page_info.total_count
                    ),
                });
            }
            let n = conn.entities.len();
            for a in conn.entities {
                if !seen.insert(a.id) {
                    return Err(BillingError::ChangedDuringRead {
                        system: SYSTEM,
                        what: "accounts".into(),
                        message: format!("account {} came twice", a.id),
                    });
                }
                out.push(a.into_customer());
            }
            if page >= conn.page_info.total_pages {
                break;
            }
            if n == 0 {
                return Err(BillingError::Decode {
                    system: SYSTEM,
                    what: "accounts".into(),
                    message: format!("page {page} of {} is empty", conn.page_info.total_pages),
                });
            }
            page += 1;
        }
        if out.len() as u64 != first_total.unwrap_or(0) {
            return Err(BillingError::ChangedDuringRead {
                system: SYSTEM,
                what: "accounts".into(),
                message: format!(
                    "read {} accounts, total_count says {}",
                    out.len(),
                    first_total.unwrap_or(0)
                ),
            });
        }
        Ok(out)
    }

    /// One account by id (after a webhook), or `None` when Sonar has no such account.
    pub async fn account(&self, id: u64) -> Result<Option<BillingCustomer>, BillingError> {
        let query = format!(
            "query Account($id: Int64Bit) {{
  accounts(id: $id) {{
    page_info {{ page records_per_page total_pages total_count }}
    entities {{{ACCOUNT_FIELDS}
    }}
  }}
}}"
        );
        let data = self.query(&query, json!({ "id": id })).await?;
        let conn: Connection = decode(&data, "accounts")?;
        Ok(conn
            .entities
            .into_iter()
            .find(|a| a.id == id)
            .map(Account::into_customer))
    }
}

/// The GraphQL endpoint for a base URL or the endpoint itself.
pub fn graphql_url(url: &str) -> String {
    let base = url.trim().trim_end_matches('/');
    if base.ends_with("/api/graphql") {
        base.to_string()
    } else {
        format!("{base}/api/graphql")
    }
}

/// Sonar's rate-limit body is `{"error": "Request limit of 400/min reached."}`.
fn classify(raw: &RawResponse) -> Verdict {
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&raw.body)
        && let Some(Value::String(msg)) = map.get("error")
        && (msg.to_ascii_lowercase().contains("request limit")
            || raw.status == StatusCode::TOO_MANY_REQUESTS)
    {
        return Verdict::RateLimited(msg.clone());
    }
    Verdict::Done
}

/// The `data` of a GraphQL response, or its errors.
fn graphql_data(raw: &RawResponse) -> Result<Value, BillingError> {
    if raw.status == StatusCode::UNAUTHORIZED || raw.status == StatusCode::FORBIDDEN {
        return Err(BillingError::Unauthorized {
            system: SYSTEM,
            message: format!("HTTP {}: {}", raw.status.as_u16(), raw.preview()),
        });
    }
    let parsed: Result<Value, _> = serde_json::from_slice(&raw.body);
    let Ok(Value::Object(mut body)) = parsed else {
        let content_type = raw
            .headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none");
        return Err(if raw.status.is_success() {
            BillingError::Decode {
                system: SYSTEM,
                what: "a GraphQL query".into(),
                message: format!(
                    "not a JSON object (content-type {content_type}): {}",
                    raw.preview()
                ),
            }
        } else {
            BillingError::Api {
                system: SYSTEM,
                status: raw.status.as_u16(),
                code: None,
                message: raw.preview(),
            }
        });
    };
    if let Some(Value::Array(errors)) = body.get("errors")
        && !errors.is_empty()
    {
        let messages = errors
            .iter()
            .map(|e| match e.get("message") {
                Some(Value::String(m)) => m.clone(),
                _ => e.to_string(),
            })
            .collect();
        return Err(BillingError::GraphQl {
            system: SYSTEM,
            messages,
        });
    }
    if !raw.status.is_success() {
        return Err(BillingError::Api {
            system: SYSTEM,
            status: raw.status.as_u16(),
            code: None,
            message: raw.preview(),
        });
    }
    match body.remove("data") {
        Some(data @ Value::Object(_)) => Ok(data),
        _ => Err(BillingError::GraphQl {
            system: SYSTEM,
            messages: vec!["the response has no data".into()],
        }),
    }
}

fn decode<T: serde::de::DeserializeOwned>(data: &Value, root: &str) -> Result<T, BillingError> {
    let v = data.get(root).cloned().unwrap_or(Value::Null);
    serde_json::from_value(v).map_err(|e| BillingError::Decode {
        system: SYSTEM,
        what: root.to_string(),
        message: e.to_string(),
    })
}

// ----------------------------------------------------------------------------------------------
// Wire types (only what is selected above).

#[derive(Deserialize)]
struct Connection {
    #[serde(default)]
    entities: Vec<Account>,
    page_info: PageInfo,
}

#[derive(Deserialize)]
struct PageInfo {
    #[serde(deserialize_with = "lenient::u64_req")]
    total_pages: u64,
    #[serde(deserialize_with = "lenient::u64_req")]
    total_count: u64,
}

#[derive(Deserialize)]
struct Entities<T> {
    #[serde(default = "Vec::new")]
    entities: Vec<T>,
}

impl<T> Default for Entities<T> {
    fn default() -> Self {
        Entities {
            entities: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
struct Account {
    #[serde(deserialize_with = "lenient::u64_req")]
    id: u64,
    #[serde(default, deserialize_with = "lenient::string")]
    name: String,
    #[serde(default, deserialize_with = "lenient::boolean")]
    is_delinquent: bool,
    #[serde(default)]
    account_status: Option<AccountStatus>,
    #[serde(default)]
    custom_field_data: Option<Entities<CustomFieldData>>,
    #[serde(default)]
    account_services: Option<Entities<AccountService>>,
    #[serde(default)]
    addresses: Option<Entities<Address>>,
    #[serde(default)]
    uninventoried_mac_addresses: Option<Entities<UninventoriedMac>>,
}

#[derive(Deserialize)]
struct AccountStatus {
    #[serde(default, deserialize_with = "lenient::string")]
    name: String,
    #[serde(default, deserialize_with = "lenient::boolean")]
    activates_account: bool,
}

#[derive(Deserialize)]
struct CustomFieldData {
    #[serde(default, deserialize_with = "lenient::string")]
    value: String,
    #[serde(default)]
    custom_field: Option<Named>,
}

#[derive(Deserialize)]
struct Named {
    #[serde(default, deserialize_with = "lenient::string")]
    name: String,
}

#[derive(Deserialize)]
struct AccountService {
    #[serde(deserialize_with = "lenient::u64_req")]
    id: u64,
    #[serde(default)]
    service: Option<Service>,
}

#[derive(Deserialize)]
struct Service {
    #[serde(default, deserialize_with = "lenient::string")]
    name: String,
    #[serde(default, rename = "type", deserialize_with = "lenient::string")]
    kind: String,
    #[serde(default = "yes", deserialize_with = "lenient::boolean")]
    enabled: bool,
    #[serde(default)]
    data_service_detail: Option<DataServiceDetail>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct DataServiceDetail {
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    download_speed_kilobits_per_second: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    upload_speed_kilobits_per_second: Option<u64>,
}

#[derive(Deserialize)]
struct Address {
    #[serde(default, rename = "type", deserialize_with = "lenient::string")]
    kind: String,
    #[serde(default)]
    custom_field_data: Option<Entities<CustomFieldData>>,
    #[serde(default)]
    inventory_items: Option<Entities<InventoryItem>>,
}

#[derive(Deserialize)]
struct InventoryItem {
    #[serde(default)]
    inventory_model_field_data: Option<Entities<ModelFieldData>>,
}

#[derive(Deserialize)]
struct ModelFieldData {
    #[serde(default, deserialize_with = "lenient::string")]
    value: String,
    #[serde(default)]
    inventory_model_field: Option<ModelField>,
}

#[derive(Deserialize)]
struct ModelField {
    #[serde(default, deserialize_with = "lenient::boolean")]
    primary: bool,
}

#[derive(Deserialize)]
struct UninventoriedMac {
    #[serde(default, deserialize_with = "lenient::string")]
    mac_address: String,
}

fn custom_fields(data: Option<Entities<CustomFieldData>>, out: &mut BTreeMap<String, String>) {
    for d in data.unwrap_or_default().entities {
        if let Some(f) = d.custom_field
            && !f.name.is_empty()
        {
            out.entry(f.name).or_insert(d.value);
        }
    }
}

impl Account {
    fn into_customer(self) -> BillingCustomer {
        let status = match self.account_status {
            Some(s) => CustomerStatus::Sonar {
                name: s.name,
                activates_account: s.activates_account,
                is_delinquent: self.is_delinquent,
            },
            None => CustomerStatus::Sonar {
                name: String::new(),
                activates_account: false,
                is_delinquent: self.is_delinquent,
            },
        };
        let mut fields = BTreeMap::new();
        custom_fields(self.custom_field_data, &mut fields);
        let mut macs = Vec::new();
        for addr in self.addresses.unwrap_or_default().entities {
            // Service addresses only; mailing addresses carry no equipment.
            if !(addr.kind.is_empty() || addr.kind.eq_ignore_ascii_case("PHYSICAL")) {
                continue;
            }
            custom_fields(addr.custom_field_data, &mut fields);
            for item in addr.inventory_items.unwrap_or_default().entities {
                for fd in item.inventory_model_field_data.unwrap_or_default().entities {
                    if fd.inventory_model_field.is_some_and(|f| f.primary) && !fd.value.is_empty() {
                        macs.push(fd.value);
                    }
                }
            }
        }
        for m in self
            .uninventoried_mac_addresses
            .unwrap_or_default()
            .entities
        {
            if !m.mac_address.is_empty() {
                macs.push(m.mac_address);
            }
        }
        let services = self
            .account_services
            .unwrap_or_default()
            .entities
            .into_iter()
            .filter_map(|link| {
                let svc = link.service?;
                if !svc.kind.eq_ignore_ascii_case("DATA") {
                    return None;
                }
                let detail = svc.data_service_detail?;
                Some(BillingService {
                    id: link.id.to_string(),
                    plan_name: svc.name,
                    active: svc.enabled,
                    down_kbps: detail.download_speed_kilobits_per_second.unwrap_or(0),
                    up_kbps: detail.upload_speed_kilobits_per_second.unwrap_or(0),
                    fields: BTreeMap::new(),
                    macs: Vec::new(),
                })
            })
            .collect();
        BillingCustomer {
            source: ManagedBy::Sonar,
            key: self.id.to_string(),
            name: self.name,
            status,
            services,
            fields,
            macs,
        }
    }
}

/// Decodes a GraphQL answer to the accounts query (the whole HTTP body) as
/// [`SonarClient::accounts`] does for one page, without the network: the decoding of what
/// billing sends, for the fuzzer.
pub fn decode_accounts(status: u16, body: &[u8]) -> Result<Vec<BillingCustomer>, BillingError> {
    let raw = RawResponse {
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        headers: Default::default(),
        body: body.to_vec(),
    };
    let data = graphql_data(&raw)?;
    let conn: Connection = decode(&data, "accounts")?;
    Ok(conn
        .entities
        .into_iter()
        .map(Account::into_customer)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_from_base_or_full_url() {
        assert_eq!(
            graphql_url("https://isp.sonar.software/"),
            "https://isp.sonar.software/api/graphql"
        );
        assert_eq!(
            graphql_url("https://isp.sonar.software/api/graphql"),
            "https://isp.sonar.software/api/graphql"
        );
    }

    #[test]
    fn an_account_becomes_a_customer() {
        let v = json!({
            "id": 42, "name": "Unit 4B", "account_status_id": 1, "is_delinquent": false,
            "account_status": {"id": 1, "name": "Active", "activates_account": true},
            "custom_field_data": {"entities": [
                {"custom_field_id": 3, "value": "1409", "custom_field": {"name": "vlan"}}]},
            "account_services": {"entities": [
                {"id": 7, "service": {"id": 1, "name": "500M", "type": "DATA", "enabled": true,
                  "data_service_detail": {"download_speed_kilobits_per_second": 500000,
                                          "upload_speed_kilobits_per_second": 500000}}},
                {"id": 8, "service": {"id": 2, "name": "Fee", "type": "RECURRING"}}]},
            "addresses": {"entities": [{"id": 1, "type": "PHYSICAL",
                "custom_field_data": {"entities": [{"value": "bldg-1", "custom_field": {"name": "gam"}}]},
                "inventory_items": {"entities": [{"id": 9, "inventory_model_field_data": {"entities": [
                    {"value": "00:0e:d8:1c:95:08", "inventory_model_field": {"name": "MAC", "primary": true}},
                    {"value": "SN123", "inventory_model_field": {"name": "Serial", "primary": false}}]}}]}}]},
            "uninventoried_mac_addresses": {"entities": []}
        });
        let c = serde_json::from_value::<Account>(v)
            .unwrap()
            .into_customer();
        assert_eq!(c.key, "42");
        assert_eq!(c.services.len(), 1);
        assert_eq!(c.services[0].down_kbps, 500_000);
        assert_eq!(c.fields["vlan"], "1409");
        assert_eq!(c.fields["gam"], "bldg-1");
        assert_eq!(c.macs, vec!["00:0e:d8:1c:95:08".to_string()]);
    }
}
