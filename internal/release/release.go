// Package release holds SCOPE's release number in a package with no dependencies, so that
// low-level packages (the bundle reader, which checks a bundle's min_scope_version at load)
// can know it without linking the native libraries that package version reports on.
package release

// Version is SCOPE's release number. Bundles name the minimum release they need
// (min_scope_version); version.Release is this constant.
const Version = "0.1.0"
