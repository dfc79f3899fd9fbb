//! Outlook's default names of the special folders in common languages:
//! what tells the Inbox or Sent Items apart when the PST does not say.

use super::Role;

/// Whether `name` is Outlook's default name for `role` in a common
/// language.
pub fn is_named(role: Role, name: &str) -> bool {
    let names: &[&str] = match role {
        Role::Inbox => &[
            "Inbox",
            "Posteingang",
            "Boîte de réception",
            "Bandeja de entrada",
            "Posta in arrivo",
            "Caixa de Entrada",
            "Postvak IN",
            "收件箱",
            "受信トレイ",
            "Входящие",
        ],
        Role::Sent => &[
            "Sent Items",
            "Gesendete Elemente",
            "Éléments envoyés",
            "Elementos enviados",
            "Posta inviata",
            "Itens Enviados",
            "Verzonden items",
            "已发送邮件",
            "送信済みアイテム",
            "Отправленные",
        ],
        Role::Deleted => &[
            "Deleted Items",
            "Gelöschte Elemente",
            "Éléments supprimés",
            "Elementos eliminados",
            "Posta eliminata",
            "Itens Excluídos",
            "Verwijderde items",
            "已删除邮件",
            "削除済みアイテム",
            "Удаленные",
        ],
        Role::Drafts => &[
            "Drafts",
            "Entwürfe",
            "Brouillons",
            "Borradores",
            "Bozze",
            "Rascunhos",
            "Concepten",
            "草稿",
            "下書き",
            "Черновики",
        ],
        Role::Junk => &[
            "Junk E-mail",
            "Junk Email",
            "Junk-E-Mail",
            "Courrier indésirable",
            "Correo electrónico no deseado",
            "Posta indesiderata",
            "Lixo Eletrônico",
            "Ongewenste e-mail",
            "垃圾邮件",
            "迷惑メール",
            "Нежелательная почта",
        ],
    };
    names.iter().any(|n| n.eq_ignore_ascii_case(name))
}
