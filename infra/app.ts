/** The CDK app entry (`cdk.json` runs it): `npx cdk synth`, `npx cdk deploy`. Options: README "Configuration". */
import { createApp } from './create-app';

createApp().app.synth();
