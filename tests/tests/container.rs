//! The `.ncx` container: round trips, the stored golden file, hostile input.

use ncodec::Error;
use ncodec::container::{Container, FORMAT_VERSION, Header, Limits, Section};
use ncodec::entropy::{DEFAULT_TAIL_MASS, default_scales, gaussian_tables};
use ncodec::media::MediaInfo;
use sha2::{Digest, Sha256};

fn golden_symbols() -> (Vec<i32>, Vec<u16>) {
    let symbols: Vec<i32> = (0..48).map(|i| ((i * 7) % 11) - 5).collect();
    let indexes: Vec<u16> = (0..48).map(|i| (i * 3 % 64) as u16).collect();
    (symbols, indexes)
}

/// The golden file: an image header and one entropy-coded section, as version 1 wrote it.
fn golden_container() -> Container {
    let tables = gaussian_tables(&default_scales(), DEFAULT_TAIL_MASS).unwrap();
    let (s, i) = golden_symbols();
    let digest: [u8; 32] = Sha256::digest(tables.to_bytes()).into();
    Container {
        header: Header {
            // The stored file is a version-1 file: it must still read, and write back the
            // same.
            version: 1,
            flags: 0,
            model_id: "golden-test".into(),
            model_digest: digest,
            quality: 2,
            media: MediaInfo::Image {
                width: 8,
                height: 6,
                channels: 3,
                bit_depth: 8,
            },
        },
        sections: vec![
            Section {
                tag: *b"META",
                data: b"ncodec golden v1".to_vec(),
            },
            Section {
                tag: *b"YHAT",
                data: ncodec::entropy::encode(&tables, &s, &i, 2).unwrap(),
            },
        ],
    }
}

#[test]
fn golden_file_still_decodes() {
    let bytes = golden_container().to_bytes().unwrap();
    ncodec_tests::check_golden("golden-v1.ncx", &bytes);
    let stored = std::fs::read(ncodec_tests::fixtures().join("golden-v1.ncx")).unwrap();
    let c = Container::from_bytes(&stored, &Limits::default()).unwrap();
    assert_eq!(c.header.model_id, "golden-test");
    assert_eq!(c.header.quality, 2);
    assert_eq!(
        c.header.media,
        MediaInfo::Image {
            width: 8,
            height: 6,
            channels: 3,
            bit_depth: 8
        }
    );
    let tables = gaussian_tables(&default_scales(), DEFAULT_TAIL_MASS).unwrap();
    let (s, i) = golden_symbols();
    assert_eq!(
        ncodec::entropy::decode(&tables, c.section(b"YHAT").unwrap(), &i).unwrap(),
        s
    );
}

#[test]
fn every_media_kind_round_trips() {
    let mut c = golden_container();
    for media in [
        MediaInfo::Audio {
            sample_rate: 44100,
            channels: 2,
            frames: 1 << 33,
            bits_per_sample: 24,
            float: false,
            model_rate: 16000,
        },
        MediaInfo::Video {
            width: 352,
            height: 288,
            frames: 300,
            fps_num: 30000,
            fps_den: 1001,
            chroma: 0,
        },
        MediaInfo::Image {
            width: 1,
            height: 1,
            channels: 1,
            bit_depth: 16,
        },
    ] {
        c.header.media = media;
        c.header.flags = ncodec::container::FLAG_CHUNKED;
        let bytes = c.to_bytes().unwrap();
        assert_eq!(
            Container::from_bytes(&bytes, &Limits::default()).unwrap(),
            c
        );
    }
}

#[test]
fn every_prefix_is_truncated_or_not_ncodec() {
    let bytes = golden_container().to_bytes().unwrap();
    for cut in 0..bytes.len() {
        match Container::from_bytes(&bytes[..cut], &Limits::default()) {
            Err(Error::Truncated(_)) => {}
            Err(Error::NotNcodec) if cut < 4 => {}
            other => panic!("prefix {cut}: {other:?}"),
        }
    }
}

#[test]
fn every_single_byte_change_is_caught() {
    let bytes = golden_container().to_bytes().unwrap();
    for pos in 0..bytes.len() {
        let mut b = bytes.clone();
        b[pos] ^= 0x40;
        let r = Container::from_bytes(&b, &Limits::default());
        assert!(r.is_err(), "change at byte {pos} not detected");
    }
}

#[test]
fn typed_errors_for_bad_headers() {
    let good = golden_container().to_bytes().unwrap();
    let mut v = good.clone();
    v[4] = 9;
    assert!(matches!(
        Container::from_bytes(&v, &Limits::default()),
        Err(Error::UnsupportedVersion { found: 9, .. })
    ));
    assert!(matches!(
        Container::from_bytes(b"GIF89a", &Limits::default()),
        Err(Error::NotNcodec)
    ));
    let mut extra = good.clone();
    extra.push(0);
    assert!(matches!(
        Container::from_bytes(&extra, &Limits::default()),
        Err(Error::Corrupt(_))
    ));
    let tiny = Limits {
        max_pixels: 10,
        ..Limits::default()
    };
    assert!(matches!(
        Container::from_bytes(&good, &tiny),
        Err(Error::LimitExceeded { .. })
    ));
    let small_sections = Limits {
        max_section_bytes: 4,
        ..Limits::default()
    };
    assert!(matches!(
        Container::from_bytes(&good, &small_sections),
        Err(Error::LimitExceeded {
            what: "section size",
            ..
        })
    ));
}

#[test]
fn huge_declared_section_does_not_allocate() {
    // A valid header followed by a section that claims 1 GiB: must fail fast as truncated.
    let mut c = golden_container();
    c.sections.clear();
    let mut bytes = c.to_bytes().unwrap();
    bytes.truncate(bytes.len() - 12); // drop END
    bytes.extend_from_slice(b"YHAT");
    bytes.extend_from_slice(&(1u32 << 30).to_le_bytes());
    assert!(matches!(
        Container::from_bytes(&bytes, &Limits::default()),
        Err(Error::Truncated(_))
    ));
}

#[test]
fn writer_rejects_bad_model_ids() {
    let mut c = golden_container();
    for id in ["", "has space", &"x".repeat(65)] {
        c.header.model_id = id.into();
        assert!(matches!(c.to_bytes(), Err(Error::InvalidArgument(_))));
    }
}

/// Files are written with the version their header says, from 1 to this build's; the
/// current version's files read back with it.
#[test]
fn writer_keeps_the_header_version_and_refuses_unknown_ones() {
    let mut c = golden_container();
    for version in [0, FORMAT_VERSION + 1] {
        c.header.version = version;
        assert!(matches!(c.to_bytes(), Err(Error::InvalidArgument(_))));
    }
    c.header.version = FORMAT_VERSION;
    let bytes = c.to_bytes().unwrap();
    assert_eq!(bytes[4], FORMAT_VERSION);
    let back = Container::from_bytes(&bytes, &Limits::default()).unwrap();
    assert_eq!(back.header.version, FORMAT_VERSION);
}
