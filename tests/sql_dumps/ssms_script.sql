USE [Shop]
GO
/****** Object:  Table [dbo].[Customer List]    Script Date: 01/05/2024 ******/
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
CREATE TABLE [dbo].[Customer List](
	[Id] [int] IDENTITY(1,1) NOT NULL,
	[Name] [nvarchar](80) NULL,
 CONSTRAINT [PK_Customer List] PRIMARY KEY CLUSTERED
(
	[Id] ASC
)WITH (PAD_INDEX = OFF, STATISTICS_NORECOMPUTE = OFF) ON [PRIMARY]
) ON [PRIMARY] TEXTIMAGE_ON [PRIMARY]
GO
CREATE TABLE [sales].[Order]([Id] [int] NOT NULL PRIMARY KEY NONCLUSTERED, [CustomerId] [int] NOT NULL)
CREATE TABLE [dbo].[Order]([Id] [int] NOT NULL PRIMARY KEY, [Guid] [uniqueidentifier] ROWGUIDCOL NOT NULL)
GO
IF NOT EXISTS (SELECT * FROM sys.objects WHERE name = N'Audit')
BEGIN
    CREATE TABLE [dbo].[Audit] ([Id] INT NOT NULL PRIMARY KEY, [OrderId] INT NULL);
    PRINT N'created; audit';
END
GO
CREATE PROCEDURE [dbo].[Touch] AS
BEGIN
    SET NOCOUNT ON;
    UPDATE [dbo].[Audit] SET [OrderId] = NULL;
END
GO
ALTER TABLE [sales].[Order]  WITH CHECK ADD  CONSTRAINT [FK_Order_Customer] FOREIGN KEY([CustomerId])
REFERENCES [dbo].[Customer List] ([Id])
GO
ALTER TABLE [sales].[Order] CHECK CONSTRAINT [FK_Order_Customer]
GO
ALTER TABLE [dbo].[Audit] WITH NOCHECK ADD CONSTRAINT [FK_Audit_Order] FOREIGN KEY([OrderId]) REFERENCES [sales].[Order] ([Id])
GO
ALTER TABLE [dbo].[Order] ADD  CONSTRAINT [DF_Order_Guid]  DEFAULT (newid()) FOR [Guid]
GO
