//! What the screens share for assistive technology: a polite live region that is in the page
//! before its text changes (screen readers announce changes to a region they already know, and
//! often miss a region inserted together with its text), the plan in one sentence for it, and
//! moving the focus to where the next step is.

use leptos::html::ElementType;
use leptos::prelude::*;

use crate::onboard::{Action, Plan};

/// A visually hidden `role="status"` region that says `text` each time it changes (an equal
/// text is not said again).
#[component]
pub fn Announce(#[prop(into)] text: Signal<String>, #[prop(into)] id: String) -> impl IntoView {
    let said = Memo::new(move |_| text.get());
    view! { <p id=id class="visually-hidden" role="status">{move || said.get()}</p> }
}

/// The plan in one sentence, for [`Announce`]: said when a plan is ready and when what it
/// would do changes (not on every keystroke in a name).
pub fn plan_summary(plan: Option<&Plan>) -> String {
    let Some(plan) = plan else {
        return String::new();
    };
    if !plan.blockers.is_empty() {
        return format!(
            "The plan cannot be applied: {}",
            plan.blockers
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    let count = |a: Action| plan.steps.iter().filter(|s| s.action == a).count();
    format!(
        "Plan ready: {} to create, {} to change, {} already in place, {} kept.",
        count(Action::Create),
        count(Action::Change),
        count(Action::Keep),
        plan.kept.len()
    )
}

/// Gives `node` the focus as soon as it is in the page (and again if it is replaced).
pub fn focus_when_shown<E>(node: NodeRef<E>)
where
    E: ElementType,
    E::Output: AsRef<web_sys::HtmlElement> + wasm_bindgen::JsCast + Clone + 'static,
{
    Effect::new(move |_| {
        if let Some(element) = node.get() {
            let element: &web_sys::HtmlElement = element.as_ref();
            let _ = element.focus();
        }
    });
}

/// Gives `node` the focus back if the focus was lost, as when the button the admin pressed was
/// disabled while it worked (a disabled element drops the focus to the page's body). Called
/// when the work is done; looks once the page has re-rendered (the button enabled again).
pub fn refocus_if_lost<E>(node: NodeRef<E>)
where
    E: ElementType,
    E::Output: AsRef<web_sys::HtmlElement> + wasm_bindgen::JsCast + Clone + 'static,
{
    set_timeout(
        move || {
            let Some(document) = web_sys::window().and_then(|w| w.document()) else {
                return;
            };
            let body = document.body().map(wasm_bindgen::JsValue::from);
            let lost = document
                .active_element()
                .is_none_or(|e| Some(wasm_bindgen::JsValue::from(e)) == body);
            if let (true, Some(element)) = (lost, node.get_untracked()) {
                let element: &web_sys::HtmlElement = element.as_ref();
                let _ = element.focus();
            }
        },
        std::time::Duration::ZERO,
    );
}
