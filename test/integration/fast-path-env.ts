// Imported first by the *-fastpath test files: every pald they start runs with the warm path on.
process.env.PAL_FAST_PATH = '1';
