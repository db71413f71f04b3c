//! Runs the real `ncodec` binary on committed inputs.

use std::ffi::OsStr;
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn ncodec() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ncodec"))
}

fn golden() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/golden-v1.ncx")
}

#[test]
fn help_lists_subcommands() {
    let out = run_ok(&[&"--help"]);
    let text = String::from_utf8(out.stdout).unwrap();
    for cmd in ["info", "models"] {
        assert!(text.contains(cmd), "{cmd} missing from --help");
    }
}

#[test]
fn models_json_is_a_list() {
    let out = run_ok(&[&"models", &"--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.is_array());
}

#[test]
fn info_on_golden_file() {
    let out = run_ok(&[&"info", &golden()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("golden-test"), "{text}");
    assert!(text.contains("8x6"), "{text}");
    assert!(text.contains("YHAT"), "{text}");

    let out = run_ok(&[&"info", &"--json", &golden()]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["header"]["model_id"], "golden-test");
    assert_eq!(v["header"]["media"]["width"], 8);
    let bytes = std::fs::metadata(golden()).unwrap().len();
    assert_eq!(v["file_bytes"], bytes);
    let bpp = v["bits_per_pixel"].as_f64().unwrap();
    assert!((bpp - bytes as f64 * 8.0 / 48.0).abs() < 1e-9);
}

#[test]
fn info_reads_stdin() {
    let mut child = ncodec()
        .args(["info", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let data = std::fs::read(golden()).unwrap();
    child.stdin.take().unwrap().write_all(&data).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("golden-test")
    );
}

#[test]
fn bad_input_fails_with_cause_chain() {
    let dir = tmpdir("bad-input");
    let bad = dir.join("bad.ncx");
    let mut data = std::fs::read(golden()).unwrap();
    let n = data.len();
    data.truncate(n - 5);
    std::fs::write(&bad, &data).unwrap();
    let err = run_fails(&[&"info", &bad]);
    assert!(
        err.contains("cannot read") && err.contains("caused by: truncated"),
        "{err}"
    );

    let err = run_fails(&[&"info", &dir.join("missing.ncx")]);
    assert!(err.contains("cannot open"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name)
}

fn tmpdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("ncodec-cli-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Asserts that a command succeeded, showing its stderr if not.
fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `ncodec` with `args` (strings and paths alike).
fn run(args: &[&dyn AsRef<OsStr>]) -> Output {
    ncodec()
        .args(args.iter().map(|a| AsRef::<OsStr>::as_ref(*a)))
        .output()
        .unwrap()
}

/// `args` as one line, for assertion messages.
fn shown(args: &[&dyn AsRef<OsStr>]) -> String {
    let words: Vec<_> = args
        .iter()
        .map(|a| AsRef::<OsStr>::as_ref(*a).to_string_lossy())
        .collect();
    words.join(" ")
}

/// Runs `ncodec` with `args` and asserts that it succeeded, showing the command and its
/// stderr if not.
fn run_ok(args: &[&dyn AsRef<OsStr>]) -> Output {
    let out = run(args);
    assert!(
        out.status.success(),
        "ncodec {}: {}",
        shown(args),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `ncodec` with `args`, asserts that it failed with exit status 1, and returns its
/// stderr.
fn run_fails(args: &[&dyn AsRef<OsStr>]) -> String {
    let out = run(args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "ncodec {} should fail with status 1",
        shown(args)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `ncodec decode NCX -o OUT` and asserts that it succeeded.
fn decode_ok(ncx: &std::path::Path, out: &std::path::Path) {
    run_ok(&[&"decode", &ncx, &"-o", &out]);
}

#[test]
fn encode_info_decode_with_the_default_model() {
    let dir = tmpdir("roundtrip");
    let ncx = dir.join("a.ncx");
    run_ok(&[&"encode", &fixture("metrics_a.png"), &"-o", &ncx]);
    let info = run_ok(&[&"info", &"--json", &ncx]);
    let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(v["header"]["media"]["width"], 200);
    assert_eq!(v["header"]["media"]["height"], 176);
    let png = dir.join("a.png");
    decode_ok(&ncx, &png);
    let img = image::open(&png).unwrap();
    assert_eq!((img.width(), img.height()), (200, 176));
    // JPEG output by extension.
    let jpg = dir.join("a.jpg");
    decode_ok(&ncx, &jpg);
    assert_eq!(image::open(&jpg).unwrap().width(), 200);
    // An unknown extension is refused, and nothing is written.
    let bad = dir.join("a.xyz");
    run_fails(&[&"decode", &ncx, &"-o", &bad]);
    assert!(!bad.exists());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn encode_and_decode_through_pipes() {
    let input = std::fs::read(fixture("metrics_a.png")).unwrap();
    let mut enc = ncodec()
        .args(["encode", "-", "-o", "-", "--quality", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    enc.stdin.take().unwrap().write_all(&input).unwrap();
    let enc = enc.wait_with_output().unwrap();
    assert_ok(&enc);
    let mut dec = ncodec()
        .args(["decode", "-", "-o", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    dec.stdin.take().unwrap().write_all(&enc.stdout).unwrap();
    let dec = dec.wait_with_output().unwrap();
    assert!(dec.status.success());
    let img = image::load_from_memory(&dec.stdout).unwrap();
    assert_eq!((img.width(), img.height()), (200, 176));
}

#[test]
fn unsupported_inputs_fail_clearly() {
    let dir = tmpdir("unsupported");
    let deep = dir.join("deep.png");
    image::ImageBuffer::<image::Rgb<u16>, _>::from_pixel(8, 8, image::Rgb([1000u16, 2, 3]))
        .save(&deep)
        .unwrap();
    let err = run_fails(&[&"encode", &deep, &"-o", &dir.join("x.ncx")]);
    assert!(err.contains("8-bit"), "{err}");
    let err = run_fails(&[&"encode", &golden(), &"-o", &dir.join("y.ncx")]);
    assert!(err.contains("cannot decode image"), "{err}");
    let png = fixture("metrics_a.png");
    let err = run_fails(&[
        &"encode",
        &"--quality",
        &"99",
        &png,
        &"-o",
        &dir.join("z.ncx"),
    ]);
    assert!(err.contains("quality 99 out of range"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn audio_and_latents_with_the_shipped_walloc_models() {
    let dir = tmpdir("audio");
    let wav = fixture("speech_ljspeech_LJ001-0027_0.5-2.0s.wav");
    let ncx = dir.join("s.ncx");
    run_ok(&[&"encode", &wav, &"-o", &ncx]);
    let info = run_ok(&[&"info", &"--json", &ncx]);
    let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(v["header"]["media"]["kind"], "audio");
    assert_eq!(v["header"]["media"]["sample_rate"], 22050);
    let back = dir.join("s.wav");
    run_ok(&[&"decode", &ncx, &"-o", &back]);
    let a = std::fs::read(&wav).unwrap();
    let b = std::fs::read(&back).unwrap();
    // Same format and length: a 16-bit mono WAV of the same size.
    assert_eq!(a.len(), b.len());
    assert_eq!(a[..44], b[..44]);
    // Latents of the WAV and of the file agree; .npy header names the shape.
    let (n1, n2) = (dir.join("w.npy"), dir.join("f.npy"));
    run_ok(&[&"latents", &wav, &"-o", &n1]);
    run_ok(&[&"latents", &ncx, &"-o", &n2]);
    assert_eq!(std::fs::read(&n1).unwrap(), std::fs::read(&n2).unwrap());
    // Image latents with the WaLLoC image model, from the image and from its file at
    // the unit-step level (4), whose latents are the image's step-1 latents.
    let png = fixture("metrics_a.png");
    let incx = dir.join("i.ncx");
    let walloc = ["--model", "walloc-rgb-16x-r1"];
    run_ok(&[
        &"encode",
        &png,
        &"-o",
        &incx,
        &walloc[0],
        &walloc[1],
        &"--quality",
        &"4",
    ]);
    let (n3, n4) = (dir.join("i1.npy"), dir.join("i2.npy"));
    run_ok(&[&"latents", &png, &"-o", &n3]);
    run_ok(&[&"latents", &incx, &"-o", &n4]);
    assert_eq!(std::fs::read(&n3).unwrap(), std::fs::read(&n4).unwrap());
    // `--quality` quantises an image as `encode --quality` does: the latents of a
    // level-10 file (step √2), not the step-1 ones; with an .ncx it is refused.
    let (ncx10, n5, n6) = (dir.join("i10.ncx"), dir.join("i5.npy"), dir.join("i6.npy"));
    for (command, out) in [("encode", &ncx10), ("latents", &n5)] {
        run_ok(&[
            &command,
            &png,
            &"-o",
            out,
            &walloc[0],
            &walloc[1],
            &"--quality",
            &"10",
        ]);
    }
    run_ok(&[&"latents", &ncx10, &"-o", &n6]);
    assert_eq!(std::fs::read(&n5).unwrap(), std::fs::read(&n6).unwrap());
    assert_ne!(std::fs::read(&n5).unwrap(), std::fs::read(&n3).unwrap());
    let refused = dir.join("refused.npy");
    let err = run_fails(&[&"latents", &ncx10, &"--quality", &"3", &"-o", &refused]);
    assert!(err.contains("image input only"), "{err}");
    let ipng = dir.join("i.png");
    run_ok(&[&"decode", &incx, &"-o", &ipng]);
    assert_eq!(image::open(&ipng).unwrap().width(), 200);
    // Quality levels other than 0 are refused for audio.
    run_fails(&[&"encode", &wav, &"-q", &"3", &"-o", &dir.join("x.ncx")]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn compare_reports_metrics_and_refuses_mismatches() {
    let compare =
        |args: &[std::path::PathBuf]| ncodec().arg("compare").args(args).output().unwrap();
    let a = fixture("metrics_a.png");
    let out = compare(&[
        "--json".into(),
        a.clone(),
        fixture("metrics_b_noise.png"),
        a.clone(),
    ]);
    assert_ok(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The PSNR and MS-SSIM that rdmetrics.py computed for this pair.
    assert!((v[0]["psnr"].as_f64().unwrap() - 32.599052).abs() < 1e-4);
    assert!((v[0]["ms_ssim"].as_f64().unwrap() - 0.986388).abs() < 1e-5);
    assert!(v[0]["differing"].as_u64().unwrap() > 0);
    assert_eq!(v[0]["samples"], 200 * 176 * 3);
    // Identical: PSNR is infinite (null in JSON), nothing differs.
    assert!(v[1]["psnr"].is_null());
    assert_eq!(v[1]["differing"], 0);
    let text = String::from_utf8(compare(&[a.clone(), a.clone()]).stdout).unwrap();
    assert!(
        text.contains("PSNR identical, MS-SSIM 1.00000, 0 of 105600"),
        "{text}"
    );

    let wav = fixture("speech_ljspeech_LJ001-0027_0.5-2.0s.wav");
    let out = compare(&["--json".into(), wav.clone(), wav.clone()]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v[0]["snr"].is_null() && v[0]["psnr"].is_null());
    assert_eq!(v[0]["differing"], 0);

    // Other sizes and other media are refused with a non-zero exit.
    let dir = tmpdir("compare");
    let small = dir.join("small.png");
    image::RgbImage::new(17, 9).save(&small).unwrap();
    for bad in [
        vec![a.clone(), small],
        vec![wav.clone(), a.clone()],
        vec![a.clone(), wav],
        vec![a.clone(), fixture("no-such-file.png")],
    ] {
        let out = compare(&bad);
        assert_eq!(out.status.code(), Some(1), "{bad:?}");
        assert!(!out.stderr.is_empty());
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// The classic wavelet codec by name: encode, decode (the file names its codec), and a
/// level beyond its range refused with exit 1.
#[test]
fn the_wavelet_codec_is_picked_by_name() {
    let dir = tmpdir("dwt");
    let ncx = dir.join("a.ncx");
    let a = fixture("metrics_a.png");
    run_ok(&[
        &"encode",
        &a,
        &"--model",
        &"dwt97-rgb",
        &"-q",
        &"12",
        &"-o",
        &ncx,
    ]);
    let info = run_ok(&[&"info", &"--json", &ncx]);
    let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(v["header"]["model_id"], "dwt97-rgb");
    assert_eq!(v["header"]["quality"], 12);
    let text = String::from_utf8(run_ok(&[&"info", &ncx]).stdout).unwrap();
    assert!(
        text.contains("quality:     12 (quantisation step 20 in 8-bit units)"),
        "{text}"
    );
    let png = dir.join("a.png");
    decode_ok(&ncx, &png);
    let out = run_ok(&[&"compare", &a, &png, &"--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let psnr = v[0]["psnr"].as_f64().unwrap_or_else(|| panic!("{v}"));
    assert!(psnr > 30.0, "{psnr}");
    let b = dir.join("b.ncx");
    let err = run_fails(&[
        &"encode",
        &a,
        &"--model",
        &"dwt97-rgb",
        &"-q",
        &"16",
        &"-o",
        &b,
    ]);
    assert!(err.contains("quality 16"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Runs `ncodec encode INPUT -o OUT --model hp-mean-64-r5-wide --quality 1 --refine
/// STEPS` and asserts that it succeeded.
fn encode_refined(input: &std::path::Path, out: &std::path::Path, steps: &str) -> Output {
    run_ok(&[
        &"encode",
        &input,
        &"-o",
        &out,
        &"--model",
        &"hp-mean-64-r5-wide",
        &"--quality",
        &"1",
        &"--refine",
        &steps,
    ])
}

/// `--refine` writes a file that `decode` reads like any other, and
/// is refused with a message for a model outside the hyperprior family.
#[test]
fn refine_flag_encodes_decodable_files_and_is_refused_elsewhere() {
    let dir = tmpdir("refine");
    let ncx = dir.join("r.ncx");
    let a = fixture("metrics_a.png");
    let out = encode_refined(&a, &ncx, "4");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("latents refined in 4 steps"), "{said}");
    assert!(
        !said.contains("tile"),
        "a small image is refined whole: {said}"
    );
    let png = dir.join("r.png");
    decode_ok(&ncx, &png);
    assert_eq!(image::open(&png).unwrap().width(), 200);

    let refused = dir.join("w.ncx");
    let err = run_fails(&[
        &"encode",
        &a,
        &"-o",
        &refused,
        &"--model",
        &"dwt97s-rgb",
        &"--refine",
        &"4",
    ]);
    assert!(err.contains("needs a hyperprior"), "{err}");
    assert!(!refused.exists());
    std::fs::remove_dir_all(&dir).ok();
}

/// An image with a side above 2048 pixels is refined in tiles, and `encode` says how many
/// are done, before the first and after each; the file decodes to the image's size.
#[test]
fn refine_reports_each_tile_of_a_long_image() {
    let dir = tmpdir("refine-tiles");
    let small = image::open(fixture("metrics_a.png")).unwrap().to_rgb8();
    let long = image::RgbImage::from_fn(2100, 64, |x, y| *small.get_pixel(x % small.width(), y));
    let png = dir.join("long.png");
    long.save(&png).unwrap();
    let ncx = dir.join("long.ncx");
    let out = encode_refined(&png, &ncx, "1");
    let said = String::from_utf8_lossy(&out.stderr);
    for tile in ["0/3 tiles", "1/3 tiles", "2/3 tiles", "3/3 tiles done\n"] {
        assert!(said.contains(tile), "no {tile:?} in {said}");
    }
    let back = dir.join("back.png");
    decode_ok(&ncx, &back);
    assert_eq!(image::open(&back).unwrap().width(), 2100);
    std::fs::remove_dir_all(&dir).ok();
}

/// Without `-o`, `encode img.png` writes `img.ncx` beside it and `decode img.ncx` writes
/// `img.png` (`.wav` for audio); an existing file of that name is not overwritten unless
/// `--force`; an audio file is not written under an image's extension.
#[test]
fn outputs_are_named_after_the_input() {
    let dir = tmpdir("names");
    let png = dir.join("img.png");
    std::fs::copy(fixture("metrics_a.png"), &png).unwrap();
    run_ok(&[&"encode", &png]);
    let ncx = dir.join("img.ncx");
    assert!(ncx.is_file());
    let before = std::fs::read(&ncx).unwrap();
    let err = run_fails(&[&"encode", &png, &"-q", &"3"]);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read(&ncx).unwrap(), before, "not overwritten");
    run_ok(&[&"encode", &png, &"-q", &"3", &"--force"]);
    assert_ne!(std::fs::read(&ncx).unwrap(), before);
    // decode writes img.png, which exists (the input): refused, then forced.
    let err = run_fails(&[&"decode", &ncx]);
    assert!(err.contains("img.png already exists"), "{err}");
    run_ok(&[&"decode", &ncx, &"--force"]);
    assert_eq!(image::open(&png).unwrap().width(), 200);

    let wav = dir.join("speech.wav");
    std::fs::copy(fixture("speech_ljspeech_LJ001-0027_0.5-2.0s.wav"), &wav).unwrap();
    run_ok(&[&"encode", &wav]);
    let sncx = dir.join("speech.ncx");
    std::fs::remove_file(&wav).unwrap();
    run_ok(&[&"decode", &sncx]);
    assert!(wav.is_file());
    let bad = dir.join("speech.png");
    let err = run_fails(&[&"decode", &sncx, &"-o", &bad]);
    assert!(err.contains(".wav"), "{err}");
    assert!(!bad.exists() && !dir.join("speech.png.tmp").exists());
    std::fs::remove_dir_all(&dir).ok();
}

/// `ncodec models` names each model's family, and `--json` carries it.
#[test]
fn models_name_their_family() {
    let text = String::from_utf8(run_ok(&[&"models"]).stdout).unwrap();
    assert!(
        text.contains("family") && text.contains("wavelet"),
        "{text}"
    );
    let v: serde_json::Value =
        serde_json::from_slice(&run_ok(&[&"models", &"--json"]).stdout).unwrap();
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .all(|m| m["family"].is_string())
    );
}

/// A JPEG of `w × h` pixels whose EXIF says to turn it 90° clockwise (orientation 6).
fn jpeg_with_orientation_6(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 12) as u8, (y * 20) as u8, 90])
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95)
        .encode_image(&img)
        .unwrap();
    // APP1 "Exif": a big-endian TIFF header and one IFD entry, Orientation (0x0112) = 6.
    let tiff: [u8; 26] = [
        0x4D, 0x4D, 0x00, 0x2A, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0,
        0, 0,
    ];
    let mut app1 = vec![0xFF, 0xE1, 0, 34];
    app1.extend_from_slice(b"Exif\0\0");
    app1.extend_from_slice(&tiff);
    [&jpeg[..2], &app1, &jpeg[2..]].concat()
}

/// Inputs are read as a viewer shows them, or refused: a JPEG is turned upright by its
/// EXIF orientation (and the summary says so); a JPEG cut inside its last scan is refused
/// unless `--allow-truncated`, which warns.
#[test]
fn inputs_are_upright_and_complete() {
    let dir = tmpdir("inputs");
    let rotated = dir.join("rotated.jpg");
    std::fs::write(&rotated, jpeg_with_orientation_6(40, 24)).unwrap();
    let ncx = dir.join("rotated.ncx");
    let out = run_ok(&[&"encode", &rotated, &"-o", &ncx]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("24x40") && said.contains("upright"), "{said}");
    let v: serde_json::Value =
        serde_json::from_slice(&run_ok(&[&"info", &"--json", &ncx]).stdout).unwrap();
    assert_eq!(
        (
            &v["header"]["media"]["width"],
            &v["header"]["media"]["height"]
        ),
        (&24.into(), &40.into())
    );

    let full = std::fs::read(fixture("metrics_a.png")).unwrap();
    let photo = image::load_from_memory(&full).unwrap().to_rgb8();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new(&mut jpeg)
        .encode_image(&photo)
        .unwrap();
    let half = dir.join("half.jpg");
    std::fs::write(&half, &jpeg[..jpeg.len() / 2]).unwrap();
    let err = run_fails(&[&"encode", &half, &"-o", &dir.join("h.ncx")]);
    assert!(err.contains("truncated"), "{err}");
    assert!(!dir.join("h.ncx").exists());
    let out = run_ok(&[
        &"encode",
        &half,
        &"-o",
        &dir.join("h.ncx"),
        &"--allow-truncated",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning"));
    std::fs::remove_dir_all(&dir).ok();
}

/// Outputs never replace what they write to: a symbolic link stays a link to the file
/// that is written, a FIFO is written into (and stays a FIFO), a file named like a
/// temporary one is left alone, and an output whose extension does not fit the decoded
/// media is refused before anything is written.
#[test]
fn outputs_keep_links_fifos_and_neighbours() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tmpdir("outputs");
    let ncx = dir.join("a.ncx");
    run_ok(&[&"encode", &fixture("metrics_a.png"), &"-o", &ncx]);
    let target = dir.join("target.png");
    let link = dir.join("link.png");
    std::os::unix::fs::symlink("target.png", &link).unwrap();
    let neighbour = dir.join("link.png.tmp");
    std::fs::write(&neighbour, b"not mine").unwrap();
    decode_ok(&ncx, &link);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(image::open(&target).unwrap().width(), 200);
    assert_eq!(std::fs::read(&neighbour).unwrap(), b"not mine");

    let wav_ncx = dir.join("s.ncx");
    run_ok(&[
        &"encode",
        &fixture("speech_ljspeech_LJ001-0027_0.5-2.0s.wav"),
        &"-o",
        &wav_ncx,
    ]);
    let fifo = dir.join("fifo.wav");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    decode_ok(&wav_ncx, &fifo);
    let streamed = reader.join().unwrap();
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    let file = dir.join("s.wav");
    decode_ok(&wav_ncx, &file);
    assert_eq!(streamed, std::fs::read(&file).unwrap());

    let wrong = dir.join("image.wav");
    let err = run_fails(&[&"decode", &ncx, &"-o", &wrong]);
    assert!(err.contains(".png"), "{err}");
    assert!(!wrong.exists());
    std::fs::remove_dir_all(&dir).ok();
}

/// `--max-pixels` bounds what an input or a file may hold: above it, encode, decode and
/// info refuse before decoding anything and say how to raise it; the default accepts.
#[test]
fn max_pixels_refuses_larger_inputs_and_files() {
    let dir = tmpdir("max-pixels");
    let png = fixture("metrics_a.png"); // 200 x 176 = 35,200 pixels
    let ncx = dir.join("a.ncx");
    for cmd in ["encode", "latents"] {
        let err = run_fails(&[&cmd, &png, &"--max-pixels", &"35k", &"-o", &ncx]);
        assert!(
            err.contains("35200") && err.contains("--max-pixels"),
            "{cmd}: {err}"
        );
        assert!(!ncx.exists());
    }
    run_ok(&[&"encode", &png, &"--max-pixels", &"35200", &"-o", &ncx]);
    let png_out = dir.join("a.png");
    let err = run_fails(&[&"decode", &ncx, &"--max-pixels", &"35199", &"-o", &png_out]);
    assert!(err.contains("--max-pixels"), "{err}");
    let err = run_fails(&[&"info", &ncx, &"--max-pixels", &"35199"]);
    assert!(err.contains("--max-pixels"), "{err}");
    assert!(!dir.join("a.png").exists());
    decode_ok(&ncx, &dir.join("a.png"));
    // A malformed count is a usage error (status 2, as clap gives).
    let out = run(&[&"info", &ncx, &"--max-pixels", &"lots"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("positive count"));
}

/// A folder of inputs for the batch tests: `n` copies of the test photo (every third in
/// `sub/`), the speech clip, a truncated PNG, a text file and a hidden photo.
fn batch_inputs(tag: &str, n: usize) -> std::path::PathBuf {
    let dir = tmpdir(tag);
    let _ = std::fs::remove_dir_all(&dir);
    let input = dir.join("in");
    std::fs::create_dir_all(input.join("sub")).unwrap();
    std::fs::create_dir_all(input.join(".hidden")).unwrap();
    let photo = std::fs::read(fixture("metrics_a.png")).unwrap();
    for i in 0..n {
        let sub = if i % 3 == 2 { "sub/" } else { "" };
        std::fs::write(input.join(format!("{sub}photo{i}.png")), &photo).unwrap();
    }
    std::fs::copy(
        fixture("speech_ljspeech_LJ001-0027_0.5-2.0s.wav"),
        input.join("sub/speech.wav"),
    )
    .unwrap();
    std::fs::write(input.join("sub/broken.png"), &photo[..400]).unwrap();
    std::fs::write(input.join("notes.txt"), "not media").unwrap();
    std::fs::write(input.join(".hidden/photo.png"), &photo).unwrap();
    dir
}

/// The manifest's lines as JSON, sorted by input.
fn manifest(path: &std::path::Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines.sort_by_key(|v| v["input"].as_str().unwrap().to_owned());
    lines
}

/// The statuses of a manifest's lines, by the input's file name.
fn statuses(lines: &[serde_json::Value]) -> Vec<(String, String)> {
    lines
        .iter()
        .map(|v| {
            let input = std::path::PathBuf::from(v["input"].as_str().unwrap());
            (
                input.file_name().unwrap().to_string_lossy().into_owned(),
                v["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_folder_is_encoded_to_a_mirrored_tree_and_a_rerun_resumes() {
    let dir = batch_inputs("batch", 3);
    let (input, out) = (dir.join("in"), dir.join("out"));
    // One bad file fails the batch but not the other files.
    let err = run_fails(&[&"encode", &input, &"-o", &out, &"-j", &"2"]);
    assert!(err.contains("1 of 5 files failed"), "{err}");
    assert!(err.contains("failed: sub/broken.png"), "{err}");
    for f in [
        "photo0.ncx",
        "photo1.ncx",
        "sub/photo2.ncx",
        "sub/speech.ncx",
    ] {
        let info = run_ok(&[&"info", &"--json", &out.join(f)]);
        let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
        assert!(v["file_bytes"].as_u64().unwrap() > 0, "{f}");
    }
    assert!(!out.join("notes.ncx").exists() && !out.join(".hidden").exists());
    let lines = manifest(&out.join("manifest.jsonl"));
    let want = |s: &str| {
        vec![
            ("photo0.png".into(), s.into()),
            ("photo1.png".into(), s.into()),
            ("broken.png".into(), "failed".into()),
            ("photo2.png".into(), s.into()),
            ("speech.wav".into(), s.into()),
        ]
    };
    assert_eq!(statuses(&lines), want("done"));
    let photo = &lines[0];
    assert_eq!(photo["model"], "dwt97s-pf-r2");
    let bytes = std::fs::metadata(out.join("photo0.ncx")).unwrap().len();
    assert_eq!(photo["ncx_bytes"], bytes);
    assert!((photo["bpp"].as_f64().unwrap() - bytes as f64 * 8.0 / (200.0 * 176.0)).abs() < 1e-9);
    assert!(lines[4]["kbit_s"].as_f64().unwrap() > 0.0);
    assert!(lines[2]["error"].as_str().unwrap().contains("broken.png"));

    // A rerun skips what is complete, and tries the bad file again.
    let before = std::fs::read(out.join("photo1.ncx")).unwrap();
    run_fails(&[&"encode", &input, &"-o", &out]);
    assert_eq!(
        statuses(&manifest(&out.join("manifest.jsonl"))),
        want("skipped")
    );
    assert_eq!(std::fs::read(out.join("photo1.ncx")).unwrap(), before);
    // Another quality does not take the old files for its own.
    let err = run_fails(&[&"encode", &input, &"-o", &out, &"-q", &"3"]);
    assert!(err.contains("--force replaces it"), "{err}");

    // The decoded tree, and its resumption.
    std::fs::remove_file(input.join("sub/broken.png")).unwrap();
    let dec = dir.join("dec");
    run_ok(&[&"decode", &out, &"-o", &dec]);
    let img = image::open(dec.join("sub/photo2.png")).unwrap();
    assert_eq!((img.width(), img.height()), (200, 176));
    assert!(dec.join("sub/speech.wav").exists());
    run_ok(&[&"decode", &out, &"-o", &dec]);
    let lines = manifest(&dec.join("manifest.jsonl"));
    assert_eq!(lines.len(), 4);
    assert!(lines.iter().all(|v| v["status"] == "skipped"), "{lines:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shards_of_a_folder_cover_every_file_once() {
    let dir = batch_inputs("shards", 9);
    let input = dir.join("in");
    std::fs::remove_file(input.join("sub/broken.png")).unwrap();
    let mut seen = Vec::new();
    for k in 0..3 {
        let out = dir.join(format!("out{k}"));
        run_ok(&[
            &"encode",
            &input,
            &"-o",
            &out,
            &"--shard",
            &format!("{k}/3"),
        ]);
        let lines = manifest(&out.join(format!("manifest.{k}-of-3.jsonl")));
        assert!(lines.iter().all(|v| v["status"] == "done"));
        seen.extend(
            lines
                .iter()
                .map(|v| v["input"].as_str().unwrap().to_owned()),
        );
    }
    seen.sort();
    let mut want: Vec<String> = (0..9)
        .map(|i| {
            let sub = if i % 3 == 2 { "sub/" } else { "" };
            input
                .join(format!("{sub}photo{i}.png"))
                .display()
                .to_string()
        })
        .chain([input.join("sub/speech.wav").display().to_string()])
        .collect();
    want.sort();
    assert_eq!(seen, want);
    // A usage error, as clap reports them: status 2.
    let bad = run(&[&"encode", &input, &"-o", &dir.join("x"), &"--shard", &"3/3"]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("K/N"), "{err}");
    let err = run_fails(&[
        &"encode",
        &fixture("metrics_a.png"),
        &"-o",
        &dir.join("a.ncx"),
        &"--jobs",
        &"2",
    ]);
    assert!(err.contains("folder input"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_killed_batch_leaves_only_complete_files_and_resumes() {
    let dir = batch_inputs("killed", 48);
    let input = dir.join("in");
    std::fs::remove_file(input.join("sub/broken.png")).unwrap();
    let out = dir.join("out");
    let mut child = ncodec()
        .args([
            std::ffi::OsStr::new("encode"),
            input.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
            "-j".as_ref(),
            "1".as_ref(),
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once a few files are done (if it has not finished by then).
    let start = std::time::Instant::now();
    while start.elapsed().as_secs() < 60 {
        let done =
            std::fs::read_to_string(out.join("manifest.jsonl")).map_or(0, |t| t.lines().count());
        if done >= 3 || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let _ = child.kill();
    child.wait().unwrap();
    // Every .ncx there is complete.
    let mut complete = 0;
    for entry in walk(&out) {
        if entry.extension().is_some_and(|e| e == "ncx") {
            run_ok(&[&"info", &entry]);
            complete += 1;
        }
    }
    run_ok(&[&"encode", &input, &"-o", &out]);
    let lines = manifest(&out.join("manifest.jsonl"));
    assert_eq!(lines.len(), 49);
    // It was killed on the way (48 photos one at a time take far longer than a few).
    assert!(
        (3..49).contains(&complete),
        "{complete} complete when killed"
    );
    let skipped = lines.iter().filter(|v| v["status"] == "skipped").count();
    assert_eq!(skipped, complete, "{lines:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every file under `dir`, recursively.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
