:setvar DatabaseName "Shop"
:on error exit
:r .\Pre-Deployment.sql
GO
PRINT N'Creating [dbo].[Team]...';
GO
CREATE TABLE [dbo].[Team] ([Id] INT NOT NULL, PRIMARY KEY CLUSTERED ([Id] ASC));
GO
CREATE TABLE [dbo].[Member] ([Id] INT NOT NULL PRIMARY KEY, [TeamId] INT NOT NULL);
GO
ALTER TABLE [dbo].[Member] WITH NOCHECK
    ADD CONSTRAINT [FK_Member_Team] FOREIGN KEY ([TeamId]) REFERENCES [dbo].[Team] ([Id]);
GO
