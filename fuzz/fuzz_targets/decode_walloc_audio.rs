//! Decodes arbitrary bytes as a whole file of a shipped WaLLoC audio model, as
//! `ncodec decode` does: must never panic, and a decode that succeeds must give the size
//! the header promised.
#![no_main]

ncodec_fuzz::whole_file_target!(walloc, Audio, Decode);
