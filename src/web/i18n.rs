//! The pages' words in English and Spanish, chosen by the browser's
//! `Accept-Language`.

use axum::http::HeaderMap;
use axum::http::header::ACCEPT_LANGUAGE;
use serde::Serialize;

use crate::vocabulary::AccountState;

/// A language the pages speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English, the default.
    En,
    /// Spanish.
    Es,
}

impl Lang {
    /// The language the browser prefers most among those the pages speak
    /// (English when it names none of them).
    pub fn of(headers: &HeaderMap) -> Lang {
        let Some(value) = headers.get(ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()) else {
            return Lang::En;
        };
        let mut best: Option<(f32, Lang)> = None;
        for range in value.split(',') {
            let mut parts = range.split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let quality = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            let lang = match primary {
                "es" => Lang::Es,
                "en" => Lang::En,
                _ => continue,
            };
            if best.is_none_or(|(q, _)| quality > q) {
                best = Some((quality, lang));
            }
        }
        best.map_or(Lang::En, |(_, lang)| lang)
    }

    /// The `lang` attribute of the pages.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
        }
    }

    /// Every word of the pages in this language.
    pub fn words(self) -> &'static Words {
        match self {
            Lang::En => &EN,
            Lang::Es => &ES,
        }
    }

    /// An account state in plain words.
    pub fn state(self, state: AccountState) -> &'static str {
        use AccountState::*;
        match (self, state) {
            (Lang::En, Scheduled) => "scheduled",
            (Lang::En, Queued) => "waiting to start",
            (Lang::En, Running) => "in progress",
            (Lang::En, Completed) => "completed",
            (Lang::En, CompletedWithErrors) => "completed with errors",
            (Lang::En, Failed) => "failed",
            (Lang::En, Cancelled) => "cancelled",
            (Lang::En, Interrupted) => "interrupted",
            (Lang::En, Undoing) => "being undone",
            (Lang::En, Undone) => "undone",
            (Lang::Es, Scheduled) => "programada",
            (Lang::Es, Queued) => "esperando para empezar",
            (Lang::Es, Running) => "en curso",
            (Lang::Es, Completed) => "completada",
            (Lang::Es, CompletedWithErrors) => "completada con errores",
            (Lang::Es, Failed) => "fallida",
            (Lang::Es, Cancelled) => "cancelada",
            (Lang::Es, Interrupted) => "interrumpida",
            (Lang::Es, Undoing) => "deshaciéndose",
            (Lang::Es, Undone) => "deshecha",
        }
    }
}

/// The fixed texts of the pages.
#[derive(Debug, Serialize)]
pub struct Words {
    pub title: &'static str,
    pub follow: &'static str,
    pub follow_help: &'static str,
    pub migration_id: &'static str,
    pub source_address: &'static str,
    pub look_up: &'static str,
    pub not_found: &'static str,
    pub throttled: &'static str,
    pub refused: &'static str,
    pub destination: &'static str,
    pub state: &'static str,
    pub current_stage: &'static str,
    pub created: &'static str,
    pub last_change: &'static str,
    pub stage: &'static str,
    pub done: &'static str,
    pub total: &'static str,
    pub rate: &'static str,
    pub time_left: &'static str,
    pub errors: &'static str,
    pub no_errors: &'static str,
    pub cancel: &'static str,
    pub cancel_explain: &'static str,
    pub cancel_confirm: &'static str,
    pub cancel_requested: &'static str,
    pub undo: &'static str,
    pub undo_explain: &'static str,
    pub undo_confirm: &'static str,
    pub undo_until: &'static str,
    pub undone_notice: &'static str,
    pub undo_running: &'static str,
    pub undone_title: &'static str,
    pub back: &'static str,
    pub live: &'static str,
    pub admin: &'static str,
    pub admin_login: &'static str,
    pub admin_password: &'static str,
    pub log_in: &'static str,
    pub batches: &'static str,
    pub batch: &'static str,
    pub accounts: &'static str,
    pub all_states: &'static str,
    pub search: &'static str,
    pub filter: &'static str,
    pub sort: &'static str,
    pub previous: &'static str,
    pub next: &'static str,
    pub page: &'static str,
    pub resume: &'static str,
    pub retry: &'static str,
    pub selected: &'static str,
    pub start_batch: &'static str,
    pub upload: &'static str,
    pub upload_accepted: &'static str,
    pub upload_invalid: &'static str,
    pub pst_import: &'static str,
    pub pst_file: &'static str,
    pub pst_host: &'static str,
    pub pst_port: &'static str,
    pub pst_tls: &'static str,
    pub pst_email: &'static str,
    pub pst_user: &'static str,
    pub pst_password: &'static str,
    pub pst_max: &'static str,
    pub pst_started: &'static str,
    pub pst_queued: &'static str,
    pub pst_no_inbox: &'static str,
}

const EN: Words = Words {
    title: "Mailbox migration",
    follow: "Follow a migration",
    follow_help: "Enter the migration ID you were given and the address of the mailbox being moved.",
    migration_id: "Migration ID",
    source_address: "Source address",
    look_up: "Show",
    not_found: "No migration with this ID and source address. Check both and try again.",
    throttled: "Too many lookups from your address. Wait a minute and try again.",
    refused: "This form has expired. Go back, reload the page and try again.",
    destination: "Destination",
    state: "State",
    current_stage: "Current stage",
    created: "Created",
    last_change: "Last change",
    stage: "Stage",
    done: "Done",
    total: "Total",
    rate: "Rate",
    time_left: "Time left",
    errors: "Errors",
    no_errors: "No errors.",
    cancel: "Cancel the migration",
    cancel_explain: "Copying stops at the next checkpoint and the remaining stages are skipped. What was already migrated is kept.",
    cancel_confirm: "Yes, cancel it",
    cancel_requested: "Cancel requested: copying stops at the next checkpoint.",
    undo: "Undo the migration",
    undo_explain: "Everything this migration created at the destination is removed, nothing else.",
    undo_confirm: "Yes, undo it",
    undo_until: "Undo is possible until",
    undone_notice: "Undone: what this migration created at the destination was removed.",
    undo_running: "Undo running: what this migration created at the destination is being removed…",
    undone_title: "What the undo did",
    back: "Back",
    live: "This page updates by itself.",
    admin: "Administration",
    admin_login: "Administrator login",
    admin_password: "Administrator password or token",
    log_in: "Log in",
    batches: "Batches",
    batch: "Batch",
    accounts: "Accounts",
    all_states: "All states",
    search: "Address or ID",
    filter: "Filter",
    sort: "Sort by",
    previous: "Previous",
    next: "Next",
    page: "Page",
    resume: "Resume",
    retry: "Retry",
    selected: "Accounts ticked",
    start_batch: "Start a batch: upload a manifest",
    upload: "Upload",
    upload_accepted: "Accepted: it runs from the watched folder. Accounts:",
    upload_invalid: "Not valid; nothing was started. Problems:",
    pst_import: "Import an Outlook PST file",
    pst_file: "PST file",
    pst_host: "Destination IMAP server",
    pst_port: "Port (empty: the TLS mode's own)",
    pst_tls: "TLS",
    pst_email: "Destination address",
    pst_user: "Login (empty: the address)",
    pst_password: "Password (kept in a private file, never shown)",
    pst_max: "Largest file taken (MiB):",
    pst_started: "Started. Migration ID:",
    pst_queued: "Waiting for the daemon to take it. Batch:",
    pst_no_inbox: "This server has no watched folder: run watch --serve, or serve --inbox DIR.",
};

const ES: Words = Words {
    title: "Migración de buzón",
    follow: "Seguir una migración",
    follow_help: "Escribe el ID de migración que recibiste y la dirección del buzón que se está moviendo.",
    migration_id: "ID de migración",
    source_address: "Dirección de origen",
    look_up: "Ver",
    not_found: "No hay ninguna migración con este ID y esta dirección de origen. Compruébalos e inténtalo de nuevo.",
    throttled: "Demasiadas consultas desde tu dirección. Espera un minuto y vuelve a intentarlo.",
    refused: "Este formulario ha caducado. Vuelve atrás, recarga la página e inténtalo de nuevo.",
    destination: "Destino",
    state: "Estado",
    current_stage: "Etapa actual",
    created: "Creada",
    last_change: "Último cambio",
    stage: "Etapa",
    done: "Hecho",
    total: "Total",
    rate: "Ritmo",
    time_left: "Tiempo restante",
    errors: "Errores",
    no_errors: "Sin errores.",
    cancel: "Cancelar la migración",
    cancel_explain: "La copia se detiene en el siguiente punto de control y se omiten las etapas restantes. Lo ya migrado se conserva.",
    cancel_confirm: "Sí, cancelarla",
    cancel_requested: "Cancelación solicitada: la copia se detiene en el siguiente punto de control.",
    undo: "Deshacer la migración",
    undo_explain: "Se elimina del destino todo lo que creó esta migración, y nada más.",
    undo_confirm: "Sí, deshacerla",
    undo_until: "Se puede deshacer hasta",
    undone_notice: "Deshecha: se eliminó del destino lo que creó esta migración.",
    undo_running: "Deshaciendo: se está eliminando del destino lo que creó esta migración…",
    undone_title: "Lo que hizo deshacer",
    back: "Volver",
    live: "Esta página se actualiza sola.",
    admin: "Administración",
    admin_login: "Acceso de administrador",
    admin_password: "Contraseña o token de administrador",
    log_in: "Entrar",
    batches: "Lotes",
    batch: "Lote",
    accounts: "Cuentas",
    all_states: "Todos los estados",
    search: "Dirección o ID",
    filter: "Filtrar",
    sort: "Ordenar por",
    previous: "Anterior",
    next: "Siguiente",
    page: "Página",
    resume: "Reanudar",
    retry: "Reintentar",
    selected: "Cuentas marcadas",
    start_batch: "Iniciar un lote: subir un manifiesto",
    upload: "Subir",
    upload_accepted: "Aceptado: se ejecuta desde la carpeta vigilada. Cuentas:",
    upload_invalid: "No es válido; no se ha iniciado nada. Problemas:",
    pst_import: "Importar un archivo PST de Outlook",
    pst_file: "Archivo PST",
    pst_host: "Servidor IMAP de destino",
    pst_port: "Puerto (vacío: el propio del modo TLS)",
    pst_tls: "TLS",
    pst_email: "Dirección de destino",
    pst_user: "Usuario (vacío: la dirección)",
    pst_password: "Contraseña (se guarda en un archivo privado, nunca se muestra)",
    pst_max: "Archivo más grande admitido (MiB):",
    pst_started: "Iniciado. ID de migración:",
    pst_queued: "Esperando a que el servicio lo tome. Lote:",
    pst_no_inbox: "Este servidor no tiene carpeta vigilada: use watch --serve o serve --inbox DIR.",
};

#[cfg(test)]
mod tests {
    use super::*;

    fn lang(value: &str) -> Lang {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_LANGUAGE, value.parse().unwrap());
        Lang::of(&headers)
    }

    #[test]
    fn the_browsers_preferred_language_wins() {
        assert_eq!(lang("es-ES,es;q=0.9,en;q=0.8"), Lang::Es);
        assert_eq!(lang("en-GB,es;q=0.5"), Lang::En);
        assert_eq!(lang("fr-FR,es;q=0.7,en;q=0.6"), Lang::Es);
        assert_eq!(lang("de"), Lang::En);
        assert_eq!(Lang::of(&HeaderMap::new()), Lang::En);
    }
}
