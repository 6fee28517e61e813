// Imported first by the *-fastpath test files: every pald they start runs with the warm path off
// (PAL_FAST_PATH=0), the mode that is not the default, so both modes keep passing the same tests.
process.env.PAL_FAST_PATH = '0';
