//! Decodes arbitrary bytes as a whole file of a shipped wavelet model (the default
//! model's family, post-filter models included), as `ncodec decode` does: must never
//! panic, and a decode that succeeds must give the size the header promised.
#![no_main]

ncodec_fuzz::whole_file_target!(wavelet, Image, Decode);
