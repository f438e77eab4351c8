//! The async-snmp [`MibHandler`] that answers from a [`MibView`] and reports, per request, whether
//! the request touched a subtree that the faults say must time out.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use async_snmp::handler::{
    BoxFuture, GetNextResult, GetResult, HandlerResult, MibHandler, RequestContext,
};
use async_snmp::{Oid, VarBind};

use super::faults::SnmpFaults;
use super::view::{Lookup, MibView};

/// Requests in flight between the UDP front and the agent, keyed by the front's per-request
/// source address, each with a flag "touched a time-out subtree, so drop the answer".
///
/// The agent offers no way for a handler to withhold a response, and under SNMPv3 authPriv the
/// front cannot read the OIDs of an encrypted request; so the handler, which does see the OIDs,
/// marks the request here and the front, which owns the socket, drops the answer.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    requests: Mutex<HashMap<SocketAddr, bool>>,
}

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, bool>> {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts tracking a request relayed from `source`.
    pub(crate) fn register(&self, source: SocketAddr) {
        self.lock().insert(source, false);
    }

    /// Marks the request from `source`, if it is one the front relayed, to go unanswered.
    pub(crate) fn suppress(&self, source: SocketAddr) {
        if let Some(flag) = self.lock().get_mut(&source) {
            *flag = true;
        }
    }

    /// Stops tracking `source`; returns whether its answer must be dropped.
    pub(crate) fn finish(&self, source: SocketAddr) -> bool {
        self.lock().remove(&source).unwrap_or(false)
    }
}

/// Serves a [`MibView`] to the agent: GET is an exact lookup, GETNEXT the next key. SET keeps
/// async-snmp's default (`notWritable`), though the agent's empty VACM write view answers
/// `noAccess` before the handler is asked.
pub(crate) struct ViewHandler {
    pub(crate) view: MibView,
    pub(crate) faults: Arc<SnmpFaults>,
    pub(crate) in_flight: Arc<InFlight>,
}

impl ViewHandler {
    fn note(&self, ctx: &RequestContext, oid: &Oid) {
        if self.faults.times_out(oid) {
            self.in_flight.suppress(ctx.source());
        }
    }
}

impl MibHandler for ViewHandler {
    fn get<'a>(
        &'a self,
        ctx: &'a RequestContext,
        oid: &'a Oid,
    ) -> BoxFuture<'a, HandlerResult<GetResult>> {
        Box::pin(async move {
            self.note(ctx, oid);
            Ok(match self.view.lookup(oid) {
                Lookup::Value(value) => GetResult::Value(value),
                Lookup::NoSuchInstance => GetResult::NoSuchInstance,
                Lookup::NoSuchObject => GetResult::NoSuchObject,
            })
        })
    }

    fn get_next<'a>(
        &'a self,
        ctx: &'a RequestContext,
        oid: &'a Oid,
    ) -> BoxFuture<'a, HandlerResult<GetNextResult>> {
        Box::pin(async move {
            self.note(ctx, oid);
            Ok(match self.view.get_next(oid) {
                Some((next, value)) => {
                    self.note(ctx, &next);
                    GetNextResult::Value(VarBind::new(next, value))
                }
                None => GetNextResult::EndOfMibView,
            })
        })
    }
}
