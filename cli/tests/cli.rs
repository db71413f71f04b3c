//! Runs the real `ncodec` binary on committed inputs.

use std::io::Write;
use std::process::{Command, Stdio};

fn ncodec() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ncodec"))
}

fn golden() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/golden-v1.ncx")
}

#[test]
fn help_lists_subcommands() {
    let out = ncodec().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for cmd in ["info", "models"] {
        assert!(text.contains(cmd), "{cmd} missing from --help");
    }
}

#[test]
fn models_json_is_a_list() {
    let out = ncodec().args(["models", "--json"]).output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.is_array());
}

#[test]
fn info_on_golden_file() {
    let out = ncodec().arg("info").arg(golden()).output().unwrap();
    assert_ok(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("golden-test"), "{text}");
    assert!(text.contains("8x6"), "{text}");
    assert!(text.contains("YHAT"), "{text}");

    let out = ncodec()
        .arg("info")
        .arg("--json")
        .arg(golden())
        .output()
        .unwrap();
    assert!(out.status.success());
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
    let dir = std::env::temp_dir().join(format!("ncodec-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.ncx");
    let mut data = std::fs::read(golden()).unwrap();
    let n = data.len();
    data.truncate(n - 5);
    std::fs::write(&bad, &data).unwrap();
    let out = ncodec().arg("info").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("cannot read") && err.contains("caused by: truncated"),
        "{err}"
    );

    let out = ncodec()
        .arg("info")
        .arg(dir.join("missing.ncx"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("cannot open")
    );
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
fn assert_ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `ncodec decode NCX -o OUT` and asserts that it succeeded.
fn decode_ok(ncx: &std::path::Path, out: &std::path::Path) {
    let run = ncodec()
        .arg("decode")
        .arg(ncx)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    assert_ok(&run);
}

#[test]
fn encode_info_decode_with_the_default_model() {
    let dir = tmpdir("roundtrip");
    let ncx = dir.join("a.ncx");
    let out = ncodec()
        .arg("encode")
        .arg(fixture("metrics_a.png"))
        .arg("-o")
        .arg(&ncx)
        .output()
        .unwrap();
    assert_ok(&out);
    let info = ncodec()
        .args(["info", "--json"])
        .arg(&ncx)
        .output()
        .unwrap();
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
    let out = ncodec()
        .arg("decode")
        .arg(&ncx)
        .arg("-o")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
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
    let out = ncodec()
        .arg("encode")
        .arg(&deep)
        .arg("-o")
        .arg(dir.join("x.ncx"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("8-bit"), "{err}");
    let out = ncodec()
        .arg("encode")
        .arg(golden())
        .arg("-o")
        .arg(dir.join("y.ncx"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("cannot decode image")
    );
    let out = ncodec()
        .args(["encode", "--quality", "99"])
        .arg(fixture("metrics_a.png"))
        .arg("-o")
        .arg(dir.join("z.ncx"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("quality 99 out of range")
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn audio_and_latents_with_the_shipped_walloc_models() {
    let dir = tmpdir("audio");
    let wav = fixture("speech_ljspeech_LJ001-0027_0.5-2.0s.wav");
    let ncx = dir.join("s.ncx");
    let run = |args: &[&std::ffi::OsStr]| {
        let out = ncodec().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    run(&[
        "encode".as_ref(),
        wav.as_os_str(),
        "-o".as_ref(),
        ncx.as_os_str(),
    ]);
    let info = run(&["info".as_ref(), "--json".as_ref(), ncx.as_os_str()]);
    let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(v["header"]["media"]["kind"], "audio");
    assert_eq!(v["header"]["media"]["sample_rate"], 22050);
    let back = dir.join("s.wav");
    run(&[
        "decode".as_ref(),
        ncx.as_os_str(),
        "-o".as_ref(),
        back.as_os_str(),
    ]);
    let a = std::fs::read(&wav).unwrap();
    let b = std::fs::read(&back).unwrap();
    // Same format and length: a 16-bit mono WAV of the same size.
    assert_eq!(a.len(), b.len());
    assert_eq!(a[..44], b[..44]);
    // Latents of the WAV and of the file agree; .npy header names the shape.
    let (n1, n2) = (dir.join("w.npy"), dir.join("f.npy"));
    run(&[
        "latents".as_ref(),
        wav.as_os_str(),
        "-o".as_ref(),
        n1.as_os_str(),
    ]);
    run(&[
        "latents".as_ref(),
        ncx.as_os_str(),
        "-o".as_ref(),
        n2.as_os_str(),
    ]);
    assert_eq!(std::fs::read(&n1).unwrap(), std::fs::read(&n2).unwrap());
    // Image latents with the WaLLoC image model, from the image and from its file at
    // the unit-step level (4), whose latents are the image's step-1 latents.
    let png = fixture("metrics_a.png");
    let incx = dir.join("i.ncx");
    run(&[
        "encode".as_ref(),
        png.as_os_str(),
        "-o".as_ref(),
        incx.as_os_str(),
        "--model".as_ref(),
        "walloc-rgb-16x-r1".as_ref(),
        "--quality".as_ref(),
        "4".as_ref(),
    ]);
    let (n3, n4) = (dir.join("i1.npy"), dir.join("i2.npy"));
    run(&[
        "latents".as_ref(),
        png.as_os_str(),
        "-o".as_ref(),
        n3.as_os_str(),
    ]);
    run(&[
        "latents".as_ref(),
        incx.as_os_str(),
        "-o".as_ref(),
        n4.as_os_str(),
    ]);
    assert_eq!(std::fs::read(&n3).unwrap(), std::fs::read(&n4).unwrap());
    // `--quality` quantises an image as `encode --quality` does: the latents of a
    // level-10 file (step √2), not the step-1 ones; with an .ncx it is refused.
    let (ncx10, n5, n6) = (dir.join("i10.ncx"), dir.join("i5.npy"), dir.join("i6.npy"));
    for (args, npy) in [(["encode", "10"], &ncx10), (["latents", "10"], &n5)] {
        run(&[
            args[0].as_ref(),
            png.as_os_str(),
            "-o".as_ref(),
            npy.as_os_str(),
            "--model".as_ref(),
            "walloc-rgb-16x-r1".as_ref(),
            "--quality".as_ref(),
            args[1].as_ref(),
        ]);
    }
    run(&[
        "latents".as_ref(),
        ncx10.as_os_str(),
        "-o".as_ref(),
        n6.as_os_str(),
    ]);
    assert_eq!(std::fs::read(&n5).unwrap(), std::fs::read(&n6).unwrap());
    assert_ne!(std::fs::read(&n5).unwrap(), std::fs::read(&n3).unwrap());
    let out = ncodec()
        .arg("latents")
        .arg(&ncx10)
        .args(["--quality", "3", "-o"])
        .arg(dir.join("refused.npy"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("image input only"));
    let ipng = dir.join("i.png");
    run(&[
        "decode".as_ref(),
        incx.as_os_str(),
        "-o".as_ref(),
        ipng.as_os_str(),
    ]);
    assert_eq!(image::open(&ipng).unwrap().width(), 200);
    // Quality levels other than 0 are refused for audio.
    let out = ncodec()
        .arg("encode")
        .arg(&wav)
        .args(["-q", "3", "-o"])
        .arg(dir.join("x.ncx"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn compare_reports_metrics_and_refuses_mismatches() {
    let run = |args: &[std::path::PathBuf]| ncodec().arg("compare").args(args).output().unwrap();
    let a = fixture("metrics_a.png");
    let out = run(&[
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
    let text = String::from_utf8(run(&[a.clone(), a.clone()]).stdout).unwrap();
    assert!(
        text.contains("PSNR identical, MS-SSIM 1.00000, 0 of 105600"),
        "{text}"
    );

    let wav = fixture("speech_ljspeech_LJ001-0027_0.5-2.0s.wav");
    let out = run(&["--json".into(), wav.clone(), wav.clone()]);
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
        let out = run(&bad);
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
    let out = ncodec()
        .arg("encode")
        .arg(fixture("metrics_a.png"))
        .args(["--model", "dwt97-rgb", "-q", "12", "-o"])
        .arg(&ncx)
        .output()
        .unwrap();
    assert_ok(&out);
    let info = ncodec()
        .args(["info", "--json"])
        .arg(&ncx)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(v["header"]["model_id"], "dwt97-rgb");
    assert_eq!(v["header"]["quality"], 12);
    let text = ncodec().arg("info").arg(&ncx).output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("quality:     12 (quantisation step 20 in 8-bit units)"),
        "{text}"
    );
    let png = dir.join("a.png");
    decode_ok(&ncx, &png);
    let out = ncodec()
        .arg("compare")
        .arg(fixture("metrics_a.png"))
        .arg(&png)
        .arg("--json")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let psnr = v[0]["psnr"].as_f64().unwrap_or_else(|| panic!("{v}"));
    assert!(psnr > 30.0, "{psnr}");
    let out = ncodec()
        .arg("encode")
        .arg(fixture("metrics_a.png"))
        .args(["--model", "dwt97-rgb", "-q", "16", "-o"])
        .arg(dir.join("b.ncx"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("quality 16"));
    std::fs::remove_dir_all(&dir).ok();
}

/// `--refine` writes a file that `decode` reads like any other, and
/// is refused with a message for a model outside the hyperprior family.
#[test]
fn refine_flag_encodes_decodable_files_and_is_refused_elsewhere() {
    let dir = tmpdir("refine");
    let ncx = dir.join("r.ncx");
    let encode = |extra: &[&str], out: &std::path::Path| {
        ncodec()
            .arg("encode")
            .arg(fixture("metrics_a.png"))
            .arg("-o")
            .arg(out)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = encode(
        &[
            "--model",
            "hp-mean-64-r5-wide",
            "--quality",
            "1",
            "--refine",
            "4",
        ],
        &ncx,
    );
    assert_ok(&out);
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
    let out = encode(&["--model", "dwt97s-rgb", "--refine", "4"], &refused);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("needs a hyperprior"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    let out = ncodec()
        .arg("encode")
        .arg(&png)
        .arg("-o")
        .arg(&ncx)
        .args([
            "--model",
            "hp-mean-64-r5-wide",
            "--quality",
            "1",
            "--refine",
            "1",
        ])
        .output()
        .unwrap();
    assert_ok(&out);
    let said = String::from_utf8_lossy(&out.stderr);
    for tile in ["0/3 tiles", "1/3 tiles", "2/3 tiles", "3/3 tiles done\n"] {
        assert!(said.contains(tile), "no {tile:?} in {said}");
    }
    let back = dir.join("back.png");
    decode_ok(&ncx, &back);
    assert_eq!(image::open(&back).unwrap().width(), 2100);
    std::fs::remove_dir_all(&dir).ok();
}
