// Imported first by the *-fastpath test files: every pald they start runs in the modes that are not
// the default, so that all of them keep passing the same tests: the warm path off (PAL_FAST_PATH=0)
// and requests read on the JS thread (PAL_FUSE_THREADS=0; worker threads by default).
process.env.PAL_FAST_PATH = '0';
process.env.PAL_FUSE_THREADS = '0';
