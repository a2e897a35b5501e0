CREATE TABLE `checkpoint_permissions` (
	`id` text PRIMARY KEY NOT NULL,
	`checkpoint_id` text NOT NULL,
	`grantee_project_id` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `checkpoint_permissions_grant` ON `checkpoint_permissions` (`checkpoint_id`,`grantee_project_id`);--> statement-breakpoint
CREATE INDEX `checkpoints_model_name` ON `checkpoints` (`model_name`);