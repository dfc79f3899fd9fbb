//! PST contacts and distribution lists as vCards, end to end: the cards
//! `protocols::pst::vcard` writes for the items a PST gives are imported
//! by the `mailshift` binary into a real Radicale address book, which
//! parses them, and read back with every field and the group's members.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{TimeZone, Utc};
use mailshift::protocols::pst::item::{
    Key, MapiItem, PS_PUBLIC_STRINGS, PSETID_ADDRESS, Value, derived_uid,
};
use mailshift::protocols::pst::vcard;
use tempfile::TempDir;

use crate::files::{manifest, run};
use crate::support::radicale::{Radicale, home};

/// The store's record key, as `PstReader::record_key` gives it.
const RECORD_KEY: [u8; 16] = [
    0x4e, 0x88, 0x78, 0x73, 0xe2, 0x9e, 0xc9, 0x44, 0x8e, 0xc2, 0x34, 0x6d, 0xfa, 0x6d, 0xf8, 0x58,
];
const ZOE: u32 = 0x0020_0024;
const BOB: u32 = 0x0020_0044;
const TEAM: u32 = 0x0020_0064;

fn text(key: Key, value: &str) -> (Key, Value) {
    (key, Value::Text(value.into()))
}

fn contact_item(node: u32, props: Vec<(Key, Value)>) -> MapiItem {
    MapiItem {
        node,
        class: "IPM.Contact".into(),
        props: props.into_iter().collect(),
        ..MapiItem::default()
    }
}

/// The PST entry ID of `node`, wrapped as a list member ([MS-OXOCNTC]
/// 2.2.2.2.4.1.1): a contact (type 0x83).
fn wrapped_contact(node: u32) -> Vec<u8> {
    let provider = [
        0xC0, 0x91, 0xAD, 0xD3, 0x51, 0x9D, 0xCF, 0x11, 0xA4, 0xA9, 0x00, 0xAA, 0x00, 0x47, 0xFA,
        0xA4,
    ];
    [
        &[0u8; 4][..],
        &provider,
        &[0x83],
        &[0; 4],
        &RECORD_KEY,
        &node.to_le_bytes(),
    ]
    .concat()
}

/// A Unicode one-off entry ID ([MS-OXCDATA] 2.2.5.1).
fn one_off(name: &str, kind: &str, email: &str) -> Vec<u8> {
    let provider = [
        0x81, 0x2B, 0x1F, 0xA4, 0xBE, 0xA3, 0x10, 0x19, 0x9D, 0x6E, 0x00, 0xDD, 0x01, 0x0F, 0x54,
        0x02,
    ];
    let strings: Vec<u8> = [name, kind, email]
        .iter()
        .flat_map(|s| s.encode_utf16().chain([0]))
        .flat_map(u16::to_le_bytes)
        .collect();
    [&[0u8; 4][..], &provider, &[0, 0, 0x90, 0x81], &strings].concat()
}

#[tokio::test(flavor = "multi_thread")]
async fn pst_contacts_and_a_list_become_cards_and_a_group_in_radicale() {
    let address = |id| Key::Lid(PSETID_ADDRESS, id);
    let long_name = "Zoë Ångström-Øresund de la Fontaine-Ōtsuka 大塚 (Lyon)";
    let photo: Vec<u8> = [0xFF, 0xD8, 0xFF, 0xE0].into_iter().chain(0..200).collect();
    let mut zoe = contact_item(
        ZOE,
        vec![
            text(Key::Tag(0x3001), long_name),
            text(Key::Tag(0x3A11), "Ångström-Øresund"),
            text(Key::Tag(0x3A06), "Zoë"),
            text(Key::Tag(0x3A16), "Acme; Lyon"),
            text(address(0x8082), "SMTP"),
            text(address(0x8083), "zoe@example.test"),
            text(Key::Tag(0x3A1C), "+33 6 12 34 56 78"),
            text(address(0x8045), "1 rue de la Paix"),
            text(address(0x8046), "Lyon"),
            text(address(0x8048), "69001"),
            text(address(0x8049), "France"),
            (
                Key::Tag(0x3A42),
                Value::Time(Utc.with_ymd_and_hms(1985, 6, 30, 22, 0, 0).unwrap()),
            ),
            text(Key::Tag(0x1000), "Met in Lyon.\r\nTea, not coffee."),
            (
                Key::Name(PS_PUBLIC_STRINGS, "Keywords".into()),
                Value::Texts(vec!["Work".into(), "Lyon, France".into()]),
            ),
        ],
    );
    zoe.photo = Some(photo.clone());
    let bob = contact_item(
        BOB,
        vec![
            text(Key::Tag(0x3001), "Bob Ørsted"),
            text(address(0x8082), "EX"),
            text(address(0x8083), "/o=Acme/ou=Exchange/cn=Recipients/cn=bob"),
            text(address(0x8084), "bob@example.test"),
        ],
    );
    let team = MapiItem {
        node: TEAM,
        class: "IPM.DistList".into(),
        props: [
            text(address(0x8053), "Team Lyon"),
            (
                address(0x8055),
                Value::Binaries(vec![
                    wrapped_contact(ZOE),
                    wrapped_contact(BOB),
                    one_off("Ext Partner", "SMTP", "partner@example.org"),
                    one_off("Boss", "EX", "/o=Acme/cn=boss"),
                ]),
            ),
        ]
        .into_iter()
        .collect(),
        ..MapiItem::default()
    };
    let uid = |node| derived_uid(&RECORD_KEY, node);
    let known = |node: u32| [ZOE, BOB, TEAM].contains(&node).then(|| uid(node));
    let group = vcard::group(&team, &uid(TEAM), &known, &RECORD_KEY);
    assert_eq!(
        group.warnings,
        ["member Boss of the list Team Lyon is left out (it has no Internet address)"]
    );
    let mut vcf = vcard::contact(&zoe, &uid(ZOE));
    vcf.extend(vcard::contact(&bob, &uid(BOB)));
    vcf.extend(&group.card);

    let dest = Radicale::start(&[("alice", "dest-pw")]);
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("outlook.vcf"), &vcf).unwrap();
    let manifest = manifest(dir.path(), "outlook.vcf", "contacts, contact_groups", &dest);
    run(dir.path(), &manifest).success().stdout_has("copied 3,");

    let (_, stored) = home(&dest.client("alice"), false)
        .await
        .remove("outlook")
        .expect("an address book named after the file");
    assert_eq!(stored.len(), 3, "{:?}", stored.keys());
    let card = |node| &stored[&format!("{}.vcf", uid(node))];
    let zoe_card = card(ZOE);
    for line in [
        format!("FN:{long_name}"),
        "N:Ångström-Øresund;Zoë;;;".into(),
        "ORG:Acme\\; Lyon".into(),
        "EMAIL;TYPE=INTERNET,PREF:zoe@example.test".into(),
        "TEL;TYPE=CELL,VOICE:+33 6 12 34 56 78".into(),
        "ADR;TYPE=WORK:;;1 rue de la Paix;Lyon;;69001;France".into(),
        "BDAY;VALUE=DATE:1985-07-01".into(),
        "NOTE:Met in Lyon.\\nTea\\, not coffee.".into(),
        "CATEGORIES:Work,Lyon\\, France".into(),
    ] {
        assert!(
            zoe_card.contains(&format!("\n{line}\n")),
            "{line} in {zoe_card}"
        );
    }
    let encoded = BASE64.encode(&photo);
    assert!(
        zoe_card.contains(&format!("PHOTO;ENCODING=b;TYPE=JPEG:{encoded}\n")),
        "{zoe_card}"
    );
    assert!(
        card(BOB).contains("\nEMAIL;TYPE=INTERNET,PREF:bob@example.test\n"),
        "{}",
        card(BOB)
    );
    let team_card = card(TEAM);
    for line in [
        "FN:Team Lyon".to_owned(),
        "X-ADDRESSBOOKSERVER-KIND:group".into(),
        format!("X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:{}", uid(ZOE)),
        format!("X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:{}", uid(BOB)),
        "X-ADDRESSBOOKSERVER-MEMBER:mailto:partner@example.org".into(),
    ] {
        assert!(
            team_card.contains(&format!("\n{line}\n")),
            "{line} in {team_card}"
        );
    }
    assert_eq!(team_card.matches("X-ADDRESSBOOKSERVER-MEMBER").count(), 3);
}
