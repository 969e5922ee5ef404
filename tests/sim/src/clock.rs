//! The simulator's clock: real time plus an offset tests can advance (`POST /_sim/clock`), so a
//! replication lag of 20 seconds or a refresh token's 24 hours cost no real time. Everything
//! time-based in the tenant reads this clock, never the system clock directly.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::graph::{Shared, lock};
use crate::ids;

/// Real time plus `offset_ms`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clock {
    /// How far the simulator runs ahead of real time.
    pub offset_ms: i64,
}

impl Clock {
    /// Milliseconds since the epoch, simulated.
    pub fn now_ms(self) -> i64 {
        ids::now_ms() + self.offset_ms
    }

    /// Seconds since the epoch, simulated.
    pub fn now(self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
}

/// `POST /_sim/clock` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Advance {
    /// Milliseconds to add (negative values are refused: time does not run backwards).
    pub advance_ms: i64,
}

/// `POST /_sim/clock {"advanceMs": N}`: moves the simulated time forward.
pub async fn advance(State(state): State<Shared>, Json(body): Json<Advance>) -> StatusCode {
    if body.advance_ms < 0 {
        return StatusCode::BAD_REQUEST;
    }
    lock(&state).tenant.clock.offset_ms += body.advance_ms;
    StatusCode::NO_CONTENT
}

/// `GET /_sim/clock`: `{"nowMs": …}`, the simulated time.
pub async fn now(State(state): State<Shared>) -> Json<Value> {
    let clock = lock(&state).tenant.clock;
    Json(json!({ "nowMs": clock.now_ms(), "offsetMs": clock.offset_ms }))
}
