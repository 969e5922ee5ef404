//! The Graph client's transport in the browser: `fetch` (the browser adds `Origin`, which the
//! identity platform requires of a SPA) and `setTimeout`.

use gloo_net::http::{Method, RequestBuilder};
use wasm_bindgen::JsCast;

use crate::graph::{HttpRequest, HttpResponse, Transport};

/// `fetch` + `setTimeout`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fetch;

impl Transport for Fetch {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, String> {
        let method = match request.method {
            "POST" => Method::POST,
            "PATCH" => Method::PATCH,
            "PUT" => Method::PUT,
            "DELETE" => Method::DELETE,
            _ => Method::GET,
        };
        // Default cache mode: Graph's answers forbid caching themselves, and `no-store` would
        // also bypass the browser's CORS preflight cache (one preflight per URL instead of one
        // per request).
        let mut builder = RequestBuilder::new(&request.url).method(method);
        for (k, v) in &request.headers {
            builder = builder.header(k, v);
        }
        let built = match request.body {
            Some(body) => builder.body(body),
            None => builder.build(),
        }
        .map_err(|e| e.to_string())?;
        let response = built.send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.parse::<f64>().ok());
        // Graph's claims challenge (continuous access evaluation) travels in this header.
        let www_authenticate = response.headers().get("www-authenticate");
        let operation = response
            .headers()
            .get("azure-asyncoperation")
            .or_else(|| response.headers().get("location"));
        // A connection dropped mid-answer fails here: no complete answer, like a network error.
        let body = response
            .text()
            .await
            .map_err(|e| format!("the answer was cut off ({e})"))?;
        Ok(HttpResponse {
            status,
            retry_after,
            www_authenticate,
            operation,
            body,
        })
    }

    async fn sleep(&self, ms: u64) {
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            if let Some(window) = web_sys::window() {
                let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
                    resolve.unchecked_ref(),
                    i32::try_from(ms).unwrap_or(i32::MAX),
                );
            }
        });
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }
}
