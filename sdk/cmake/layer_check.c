/* Linked with one SDK layer's whole archive (sdk/CMakeLists.txt): the
 * shared object only links if that layer needs nothing but the layers below
 * it and the libraries it declares. */
int dld_sdk_layer_check(void);
int dld_sdk_layer_check(void) { return 0; }
