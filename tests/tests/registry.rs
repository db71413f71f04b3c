//! The registry and the model-file contract: families are found by name, shipped models
//! by id, exported folders by their `manifest.json`, never by guessing from their files.

use ncodec::Error;
use ncodec::codec::{MANIFEST, ModelFiles};
use ncodec::registry;
use ncodec_models::burn::prelude::Device;

#[test]
fn every_shipped_model_names_a_known_family_and_families_are_unique() {
    let names = registry::family_names();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len(), "{names:?}");
    for m in registry::models() {
        let family = registry::family(m.family).unwrap();
        assert_eq!(family.name(), m.family);
        let files = registry::shipped_files(m.id).unwrap();
        assert_eq!((files.id.as_str(), files.family.as_str()), (m.id, m.family));
    }
    let err = registry::family("no-such-family").err().unwrap();
    assert!(err.to_string().contains("hyperprior"), "{err}");
}

#[test]
fn a_model_folder_round_trips_and_names_its_family() {
    let dir = ncodec_tests::scratch_dir("model-files").join("my-model");
    let shipped = registry::shipped_files("dwt97s-pf-r2").unwrap();
    shipped.write_dir(&dir).unwrap();
    let read = ModelFiles::from_dir(&dir).unwrap();
    // A folder's model is named after the folder.
    assert_eq!(
        (read.id.as_str(), read.family.as_str()),
        ("my-model", "wavelet")
    );
    for name in ["model.json", "weights.bpk"] {
        assert_eq!(read.get(name), shipped.get(name), "{name}");
    }
    assert!(read.get("tables.bin").is_none());
    let codec = registry::load_dir(&dir, &Device::flex()).unwrap();
    assert_eq!(codec.info().id, "my-model");
    // A folder's model takes its family's default level.
    assert_eq!(
        codec.info().default_quality,
        ncodec::families::wavelet::DEFAULT_QUALITY
    );

    // Without a manifest the folder is refused, with what to add.
    std::fs::remove_file(dir.join(MANIFEST)).unwrap();
    let err = registry::load_dir(&dir, &Device::flex()).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    assert!(err.to_string().contains(MANIFEST), "{err}");
    // A family this build does not have.
    std::fs::write(dir.join(MANIFEST), br#"{"family": "vq"}"#).unwrap();
    let err = registry::load_dir(&dir, &Device::flex()).unwrap_err();
    assert!(err.to_string().contains("unknown model family"), "{err}");
    // A family whose files are missing.
    std::fs::write(dir.join(MANIFEST), br#"{"family": "hyperprior"}"#).unwrap();
    let err = registry::load_dir(&dir, &Device::flex()).unwrap_err();
    assert!(err.to_string().contains("tables.bin"), "{err}");
    std::fs::remove_dir_all(dir.parent().unwrap()).ok();
}

#[test]
fn the_quality_note_comes_from_the_family_of_the_sections() {
    assert_eq!(
        registry::describe_quality(12, &[*b"DWTA"]).as_deref(),
        Some("quantisation step 20 in 8-bit units")
    );
    assert_eq!(
        registry::describe_quality(4, &[*b"LATL"]).as_deref(),
        Some("quantisation step 1")
    );
    assert_eq!(registry::describe_quality(3, &[*b"ZHAT", *b"YHAT"]), None);
}

#[test]
fn the_default_models_and_the_latents_default() {
    use ncodec::media::MediaKind;
    let image = registry::default_for(MediaKind::Image).unwrap();
    let latents = registry::default_with_latents(MediaKind::Image).unwrap();
    assert!(registry::family(latents.family).unwrap().has_latents());
    assert_eq!(latents.kind, MediaKind::Image);
    // The default image model has no latents API, so another model gives them.
    assert!(!registry::family(image.family).unwrap().has_latents());
    let audio = registry::default_with_latents(MediaKind::Audio).unwrap();
    assert_eq!(audio, registry::default_for(MediaKind::Audio).unwrap());
    assert!(registry::default_for(MediaKind::Video).is_err());
}
