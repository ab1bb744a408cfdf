// Types of load.js (plain JavaScript, see there), for the build script and the tests.
import type * as pulumi from "@pulumi/pulumi";

export function provider(key: string): pulumi.dynamic.ResourceProvider;
export function digest(file: string): string;
/** The project root, the build folder, and the build's list of compiled sources with their sha256. */
export const ROOT: string;
export const BUILD: string;
export const STAMP: string;
