//! What both benchmarks need: a clock, printing, yielding to the browser, and running the
//! benchmark natively.

/// Prints a line: to the test runner's console in the browser, to stdout natively.
#[cfg(target_arch = "wasm32")]
macro_rules! say { ($($t:tt)*) => { wasm_bindgen_test::console_log!($($t)*) } }
#[cfg(not(target_arch = "wasm32"))]
macro_rules! say { ($($t:tt)*) => { println!($($t)*) } }

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
}

/// Milliseconds from an arbitrary start (`performance.now()` in the browser).
#[cfg(target_arch = "wasm32")]
pub fn now_ms() -> f64 {
    performance_now()
}

/// Milliseconds from an arbitrary start.
#[cfg(not(target_arch = "wasm32"))]
pub fn now_ms() -> f64 {
    use std::sync::OnceLock;
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64()
        * 1000.0
}

/// Lets the test runner talk to the page between runs: ChromeDriver gives up on a renderer that
/// stays busy for 30 s.
#[cfg(target_arch = "wasm32")]
pub async fn yield_to_browser() {
    use wasm_bindgen::JsCast;
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = js_sys::global()
            .unchecked_into::<web_sys::Window>()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 50);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Natively there is nobody to yield to.
#[cfg(not(target_arch = "wasm32"))]
pub async fn yield_to_browser() {}

/// Runs a benchmark future natively, where it never waits (`yield_to_browser` is a no-op).
#[cfg(not(target_arch = "wasm32"))]
pub fn block_on(future: impl std::future::Future<Output = ()>) {
    use std::task::{Context, Poll, Waker};
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    while future.as_mut().poll(&mut cx) == Poll::Pending {}
}
