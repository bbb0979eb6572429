//! A page's secondary section: closed until it is opened, and only then are
//! its content and its data loaded. A secret's page shows its keys and
//! metadata at once and keeps *Used by*, the key and access histories, the
//! change forms and the rest one click away, so opening a secret costs one
//! request for it, not one per panel. (`load` may be a `#[lazy]` function,
//! whose code is then a wasm module of its own; measured, splitting these
//! sections made more shared chunks and larger downloads on the other
//! routes, so none is split today.)

use std::collections::BTreeSet;
use std::future::Future;

use leptos::prelude::*;

/// Which sections of the page are open, by id, kept by the page: a section
/// stays open when the page redraws after a change (its content loads
/// afresh), one part of the page can open another (after a change of
/// values, *Used by* opens to offer restarts), and a section someone closed
/// stays closed even if it opens by itself on a first visit.
#[derive(Clone, Copy)]
pub struct OpenSections {
    open: RwSignal<BTreeSet<&'static str>>,
    seen: StoredValue<BTreeSet<&'static str>>,
}

impl OpenSections {
    /// Provides a fresh set to the sections below.
    pub fn provide() -> Self {
        let this = Self {
            open: RwSignal::new(BTreeSet::new()),
            seen: StoredValue::new(BTreeSet::new()),
        };
        provide_context(this);
        this
    }

    /// The page's set, if it keeps one.
    pub fn get() -> Option<Self> {
        use_context::<Self>()
    }

    pub fn is_open(&self, id: &str) -> bool {
        self.open.with_untracked(|s| s.contains(id))
    }

    /// Opens the section `id` now (it loads if it has not yet).
    pub fn open(&self, id: &'static str) {
        if !self.is_open(id) {
            self.open.update(|s| {
                s.insert(id);
            });
        }
    }

    /// Opens the section `id` when the page next draws it, leaving the page
    /// as drawn now alone (it is about to be replaced).
    pub fn open_next(&self, id: &'static str) {
        self.open.update_untracked(|s| {
            s.insert(id);
        });
    }

    /// Forgets every section (another secret's page).
    pub fn reset(&self) {
        self.open.update_untracked(BTreeSet::clear);
        self.seen.update_value(BTreeSet::clear);
    }

    fn opened(&self, id: &str) -> bool {
        self.open.with(|s| s.contains(id))
    }

    fn close(&self, id: &'static str) {
        if self.is_open(id) {
            self.open.update(|s| {
                s.remove(id);
            });
        }
    }

    /// Whether the page draws `id` for the first time (and notes that it has).
    fn first_seen(&self, id: &'static str) -> bool {
        self.seen
            .try_update_value(|s| s.insert(id))
            .unwrap_or(false)
    }
}

/// A closed `<details>` section titled `title` whose content is `load()`:
/// nothing of it is fetched or drawn (nor, when `load` is a `#[lazy]`
/// function, downloaded) before someone opens it. Once loaded it stays
/// loaded while the page lives; closing only hides it.
#[component]
pub fn LazySection<F, Fut>(
    /// The section's heading, shown while it is closed.
    #[prop(into)]
    title: String,
    /// The element's id (and its key in [`OpenSections`]).
    id: &'static str,
    /// Open from the start.
    #[prop(optional)]
    open: bool,
    /// The `data-testid` of the section.
    #[prop(optional)]
    testid: &'static str,
    /// Produces the content; called once, when the section first opens.
    load: F,
) -> impl IntoView
where
    F: FnOnce() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = AnyView> + Send + 'static,
{
    let sections = OpenSections::get();
    // Open from the start only on the page's first drawing of it: after
    // that, it is as the person left it.
    if let Some(s) = sections
        && s.first_seen(id)
        && open
    {
        s.open_next(id);
    }
    let is_open = move || sections.map_or(open, |s| s.opened(id));
    // Loaded once, the first time the section is open.
    let loaded = RwSignal::new(sections.map_or(open, |s| s.is_open(id)));
    let load = StoredValue::new(Some(load));
    Effect::new(move |_| {
        if is_open() && !loaded.get_untracked() {
            loaded.set(true);
        }
    });
    let heading = format!("{id}-heading");
    let labelled_by = heading.clone();
    view! {
        <details class="panel section" id=id data-testid=testid open=is_open aria-labelledby=labelled_by
            on:toggle=move |ev| {
                let now = event_target::<leptos::web_sys::HtmlDetailsElement>(&ev).open();
                match sections {
                    Some(s) if now => s.open(id),
                    Some(s) => s.close(id),
                    None if now && !loaded.get_untracked() => loaded.set(true),
                    None => {}
                }
            }>
            <summary><h2 id=heading>{title}</h2></summary>
            {move || loaded.get().then(|| {
                let future = load.try_update_value(|f| f.take()).flatten().map(|f| f());
                view! {
                    <Suspense fallback=|| view! { <p class="loading" role="status">"Loading…"</p> }>
                        {future.map(Suspend::new)}
                    </Suspense>
                }
            })}
        </details>
    }
}
