package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"scope/config"
	"scope/models/bundle"
	"scope/models/bundle/modelset"
)

func cmdBundle(ctx context.Context, a *app, args []string) error {
	subs := []subcommand{
		{"build", "write a bundle of every model the configuration uses, with golden inputs (`--out DIR [--version V]`)", cmdBundleBuild},
		{"verify", "check a bundle's manifest, hashes, scope version and golden outputs (`scope bundle verify DIR`)", cmdBundleVerify},
	}
	return dispatch(ctx, a, "bundle", "Model bundles: one folder with every model the device runs (pose, recogniser, translator and its adapters), "+
		"golden inputs with what users saw for them, and manifest.json with each file's sha256. OTA moves whole bundles.", subs, args)
}

const bundleBuildHelp = `Write a model bundle: the models the configuration uses (the demo models by default),
golden inputs, and what a user sees for each golden input (top-1 glosses, translations,
landmarks), recorded by running the bundle's own models.

Collected: the Holistic pose ONNX set for pose.complexity and pose.hand_model (converted from
MediaPipe's models in the cache when missing), the recogniser bundle slr.bundle (every
precision it has, fp32 and int8), the translator slt.model with the LoRA adapters of
slt.adapters, a real photograph for the pose models (Debian's opencv-doc) and synthetic
signed sentences of signers the recogniser never saw (golden inputs are SYNTHETIC).

The bundle is written into a temporary folder beside --out and renamed at the end.`

func cmdBundleBuild(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "bundle build", "--out DIR [--version V] [flags]", bundleBuildHelp)
	cfgPath := configFlag(fs)
	out := fs.String("out", "", "bundle folder to write (must not exist or be empty)")
	ver := fs.String("version", "", "bundle version, like 1.2.3 (default: the recogniser's version); OTA never installs a lower one")
	name := fs.String("name", "", "bundle name (default scope-demo for the demo models, else scope-bundle)")
	minScope := fs.String("min-scope-version", "", "oldest scope release that may run the bundle (default: this release)")
	noPose := fs.Bool("no-pose", false, "leave the pose models out (for devices fed keypoints only)")
	var images multiFlag
	fs.Var(&images, "golden-image", "image for the pose golden check (repeatable; default "+modelset.DefaultGoldenImage+")")
	seed := fs.Uint64("golden-seed", 2027, "seed of the synthetic dialogues the golden sentences come from")
	n := fs.Int("golden-sentences", 3, "how many golden sentences")
	margin := fs.Float64("golden-margin", 2, "least log-probability lead of the best hypothesis for a golden sentence")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		return fmt.Errorf("scope bundle build needs --out DIR and no other arguments: %w", errUsage)
	}
	c, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	o := modelset.BuildOptions{
		Out: *out, Name: *name, Version: *ver, MinScopeVersion: *minScope,
		NoPose: *noPose, PoseComplexity: c.Pose.Complexity, PoseHandModel: c.Pose.HandModel, PoseModelDir: c.Pose.ModelDir,
		PoseGoldenImages: images,
		SLRBundle:        c.SLR.Bundle, SLTModel: c.SLT.Model, SLTAdapters: c.SLT.Adapters,
		GoldenSeed: *seed, GoldenSentences: *n, MinMargin: *margin,
		Progress: a.stdout,
	}
	if *ver != "" && !bundle.ValidVersion(*ver) {
		return fmt.Errorf("--version %q is not a version like 1.2.3: %w", *ver, errUsage)
	}
	m, err := modelset.Build(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "roles: %s; %d files\n", strings.Join(m.Roles(), ", "), len(m.Files))
	return nil
}

const bundleVerifyHelp = `Check a bundle as a device does before it runs one: the manifest (format, version,
min_scope_version against this scope), every file's size and sha256, that every model
loads, and the golden check: the golden inputs give what users saw when it was built (the
same top-1 glosses and translations, landmarks within a fraction of the image).`

func cmdBundleVerify(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "bundle verify", "DIR", bundleVerifyHelp)
	hashesOnly := fs.Bool("hashes-only", false, "check the manifest and hashes only (no models loaded)")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("scope bundle verify needs one bundle folder: %w", errUsage)
	}
	dir := fs.Arg(0)
	m, err := bundle.Load(dir)
	if err != nil {
		return err
	}
	if err := m.Verify(); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%s %s (hash %s): manifest and %d files match; roles %s\n", m.Name, m.Version, bundle.ShortHash(m.Hash()),
		len(m.Files), strings.Join(m.Roles(), ", "))
	if *hashesOnly {
		return nil
	}
	rep, err := modelset.CheckDir(ctx, dir, modelset.Options{SkipVerify: true, Log: a.log})
	if rep != nil {
		for _, r := range rep.Results {
			mark := "ok  "
			if !r.OK {
				mark = "FAIL"
			}
			fmt.Fprintf(a.stdout, "  %s %-36s %s\n", mark, r.Case, r.Detail)
		}
	}
	if err != nil {
		if errors.Is(err, modelset.ErrGolden) {
			return fmt.Errorf("%s: %w", dir, err)
		}
		return err
	}
	fmt.Fprintf(a.stdout, "golden check passed: %d cases\n", len(rep.Results))
	return nil
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
