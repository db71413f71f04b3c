//! Reads the latents of arbitrary bytes as a whole file of a shipped WaLLoC model (image
//! or audio, the models with a latents API), as `ncodec latents FILE.ncx` does: must
//! never panic, and latents that are read must fill their shape.
#![no_main]

ncodec_fuzz::whole_file_target!(walloc, Latents);
