use leptos::prelude::*;

use crate::api::whoami;

/// The header's right side: who is signed in (email, groups), "Who am I", and "Sign out" (a plain form
/// POST carrying the CSRF token, so it works before hydration too).
#[component]
pub fn UserMenu() -> impl IntoView {
    let me = crate::wire::resource(|| (), |()| whoami());
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                me.await
                    .ok()
                    .map(|me| {
                        let groups = me.groups.iter().map(|g| g.name.clone()).collect::<Vec<_>>().join(", ");
                        view! {
                            <div class="user" id="user-menu">
                                <a href="/whoami" class="user-email" id="user-email">{me.email}</a>
                                <span class="user-groups" id="user-groups" title="Your groups">{groups}</span>
                                <form method="post" action="/auth/logout" class="signout">
                                    <input type="hidden" name="csrf_token" value=me.csrf_token/>
                                    <button type="submit" class="button" id="signout">"Sign out"</button>
                                </form>
                            </div>
                        }
                    })
            })}
        </Transition>
    }
}
